using System.CommandLine;
using System.Globalization;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench gradient-bias</c>: per layer, how far the weight gradient from a greedy or MVUE N:M-pruned neural
/// gradient lies from the dense one (issue 15's "greedy is biased" on real tensors, and why it costs one model more
/// than another); results in bench/results/low-precision.md.
/// </summary>
public static class GradientBiasBenchCommand
{
    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = "Models: cnn (w32), resnet20 (w16)", DefaultValueFactory = _ => "cnn,resnet20" };
        var norm = new Option<string>("--norm") { Description = "Normalization of the models (bench low-precision uses range_batch)", DefaultValueFactory = _ => "range_batch" };
        var steps = new Option<int>("--steps") { Description = "Training steps before the gradients are captured", DefaultValueFactory = _ => 300 }.AtLeast(0);
        var batch = new Option<int>("--batch") { Description = "Batch of the training steps and of the captured one", DefaultValueFactory = _ => 128 }.Between(2, 4096);
        var n = new Option<int>("--n") { Description = "N of N:M", DefaultValueFactory = _ => 1 };
        var m = new Option<int>("--m") { Description = "M of N:M", DefaultValueFactory = _ => 2 };
        var draws = new Option<int>("--draws") { Description = "MVUE draws averaged for the unbiasedness column", DefaultValueFactory = _ => 64 }.Between(1, 10000);
        var threads = new Option<int>("--threads") { Description = "Torch threads (0 = all cores)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var root = new Option<string>("--root") { Description = "Fashion-MNIST directory", DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var command = new Command("gradient-bias", "Per layer: the weight gradient from greedy and MVUE N:M-pruned neural gradients against the dense one")
            { models, norm, steps, batch, n, m, draws, threads, root };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var pattern = new NmPattern(parse.GetValue(n), parse.GetValue(m));
            if (!pattern.IsValid) throw new UserFacingException($"--n / --m: N:M pruning needs {NmPattern.Rule}; got {pattern}");
            int nValue = pattern.N, mValue = pattern.M;
            var kinds = parse.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(t => SpecChoice.ParseUserInput<ModelKind>("--models", t, SpecNames.SpecName)).ToList();
            if (kinds.Count == 0 || kinds.Any(k => k is not (ModelKind.Cnn or ModelKind.ResNet20)))
                throw new UserFacingException("--models: give cnn, resnet20 or both");
            var normKind = SpecChoice.ParseUserInput<NormKind>("--norm", parse.GetValue(norm)!, SpecNames.SpecName);
            if (normKind == NormKind.GhostBatch) throw new UserFacingException("--norm: ghost_batch needs a ghost size; use batch, range_batch or none");
            int resolved = ThreadBudget.Apply(parse.GetValue(threads));
            var data = DatasetRegistry.Load(new DataSpec(DatasetKind.FashionMnist, parse.GetValue(root)!, 0, 0, new AugmentSpec(0, false, 0)), 1);
            foreach (var kind in kinds)
            {
                int width = kind == ModelKind.Cnn ? 32 : 16;
                AnsiConsole.MarkupLineInterpolated($"{kind.SpecName()} w{width}, {normKind.SpecName()}: {parse.GetValue(steps)} training steps of {parse.GetValue(batch)}, then one batch's gradients; {nValue}:{mValue} blocks for the weight-gradient GEMM; {parse.GetValue(draws)} MVUE draws");
                var spec = WeightGradientBias.Spec(parse.GetValue(root)!, kind, width, normKind, parse.GetValue(batch), resolved);
                var figures = WeightGradientBias.Measure(spec, data, parse.GetValue(steps), nValue, mValue, parse.GetValue(draws));
                var table = new Table().AddColumn("layer").AddColumn("output gradient").AddColumn("greedy |dW| / dense")
                    .AddColumn("cos(greedy, dense)").AddColumn("cos(one MVUE draw, dense)").AddColumn($"cos(mean of {parse.GetValue(draws)} MVUE draws, dense)");
                foreach (var f in figures)
                    table.AddRow(Markup.Escape(f.Layer), Markup.Escape($"[{string.Join(", ", f.GradientShape)}]"), F(f.GreedyNormRatio), F(f.GreedyCosine), F(f.OneDrawCosine), F(f.MeanCosine));
                AnsiConsole.Write(table);
            }
            return 0;
        }));
        return command;
    }

    private static string F(double value) => value.ToString("F3", CultureInfo.InvariantCulture);
}
