using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench evaluation</c>: what one evaluation of the Fashion-MNIST test set costs in this (fresh) process,
/// the first and later ones, against a bare forward pass over the same images (eval mode, no loss, no counting).
/// </summary>
public static class EvaluationBenchCommand
{
    public static Command Create()
    {
        var root = new Option<string>("--root") { Description = "Fashion-MNIST directory", DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var threads = new Option<int>("--threads") { Description = "Torch threads (a worker of the main command has 1)", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var batch = new Option<int>("--batch") { Description = "Images per forward (0 = what training uses: EvaluationBatch.Rows)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var repeats = new Option<int>("--repeats") { Description = "Later evaluations and bare passes timed (medians reported)", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var record = new Option<string?>("--record") { Description = "Also append the figures as a Markdown row to this file" };
        var command = new Command("evaluation", "One evaluation of the test set (first and later) against a bare forward pass over it, example CNN")
            { root, threads, batch, repeats, record };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            ThreadBudget.Apply(parse.GetValue(threads));
            var spec = TrainThroughputBenchmark.Spec(parse.GetValue(root)!, parse.GetValue(threads), 1, CompressionSpec.Default);
            var test = DatasetRegistry.Load(spec.Data, spec.Training.Seed).Test;
            int rows = parse.GetValue(batch) is > 0 and var b ? b : EvaluationBatch.Rows(spec.Model, test.Channels, test.Height);
            using var model = ModelRegistry.Create(spec.Model, new ModelInput(test.Channels, test.Height, test.Width, test.Classes));
            var synchronizer = new SingleProcessSynchronizer();

            double first = Seconds(() => Evaluator.Evaluate(model, test, synchronizer, rows));
            var later = Enumerable.Range(0, parse.GetValue(repeats)).Select(_ => Seconds(() => Evaluator.Evaluate(model, test, synchronizer, rows))).ToList();
            var bare = Enumerable.Range(0, parse.GetValue(repeats)).Select(_ => Seconds(() => ForwardOnly(model, test, rows))).ToList();
            double forward = Median(bare), steady = Median(later);

            string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
            AnsiConsole.MarkupLineInterpolated($"{test.Count} test images, {rows} per forward, {parse.GetValue(threads)} thread(s):");
            AnsiConsole.MarkupLineInterpolated($"  first evaluation {F(first)} s, later {F(steady)} s (median), bare forward pass {F(forward)} s (median)");
            AnsiConsole.MarkupLineInterpolated($"  first / forward {F(first / forward)}x, later / forward {F(steady / forward)}x");
            if (parse.GetValue(record) is { } file)
                File.AppendAllText(file, $"| {rows} | {parse.GetValue(threads)} | {F(first)} | {F(steady)} | {F(forward)} | {F(first / forward)} | {F(steady / forward)} | {DateTime.UtcNow:yyyy-MM-dd} |\n");
            return 0;
        }));
        return command;
    }

    private static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static void ForwardOnly(nn.Module<Tensor, Tensor> model, TensorDataset test, int rows)
    {
        model.eval();
        using var noGrad = no_grad();
        for (int start = 0; start < test.Count; start += rows)
        {
            using var scope = NewDisposeScope();
            model.forward(test.Images.narrow(0, start, Math.Min(rows, test.Count - start)));
        }
        model.train();
    }
}
