using System.CommandLine;
using System.Globalization;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Emulation;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Telemetry;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench large-batch-throughput</c>: samples/s of one process at large global batches, trained whole and
/// in micro-batches (gradient accumulation), ours against PyTorch 1.13 doing the same accumulation, alternating runs in
/// one invocation; results go to bench/results/large-batch-throughput.md.
/// </summary>
public static class LargeBatchThroughputBenchCommand
{
    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = "Models: cnn (the example CNN, w32), resnet20 (w16)", DefaultValueFactory = _ => "cnn,resnet20" };
        var batches = new Option<string>("--batches") { Description = "Global batches", DefaultValueFactory = _ => "256,1024,4096" };
        var micro = new Option<string>("--micro") { Description = "Micro-batch sizes tried below each batch (the whole batch always runs too)", DefaultValueFactory = _ => "64,256" };
        var runs = new Option<int>("--runs") { Description = "Runs of each configuration and system, alternating", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var samples = new Option<int>("--samples") { Description = "Timed samples per run (whole steps, at least one)", DefaultValueFactory = _ => 4096 }.AtLeast(1);
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps before the timed ones, the same for both systems (a large batch's first steps grow the heap to its working size, once per run)", DefaultValueFactory = _ => 3 }.Between(1, 100);
        var threads = new Option<int>("--threads") { Description = "Torch threads, the same for both (0 = all cores)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var python = new Option<string>("--python") { Description = "Python with PyTorch (Debian python3-torch)", DefaultValueFactory = _ => "/usr/bin/python3" };
        var root = new Option<string>("--root") { Description = "Fashion-MNIST directory", DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var link = new Option<string>("--link") { Description = "Rate of the shaped link between 2 workers in network namespaces (tc syntax, e.g. 1gbit; needs root); none = skip that part", DefaultValueFactory = _ => "1gbit" };
        var linkModels = new Option<string>("--link-models") { Description = "Models of the 2-worker jobs across the link: mlp (w256, 5.8M parameters), cnn (the example CNN)", DefaultValueFactory = _ => "mlp,cnn" };
        var linkSteps = new Option<int>("--link-steps") { Description = "Steps of each 2-worker job across the link (the first 3 are not measured)", DefaultValueFactory = _ => 15 }.Between(4, 10000);
        var parts = new Option<string>("--parts") { Description = "What to measure: single (one process, whole vs micro-batches vs PyTorch), link (2 workers across the shaped link)", DefaultValueFactory = _ => "single,link" };
        var peerLayouts = new Option<string>("--peer-layouts")
        {
            Description = "Memory layouts the PyTorch peer runs in: nchw (its default), channels-last (model.to(memory_format=torch.channels_last); ours computes convolutions channels-last on the CPU)",
            DefaultValueFactory = _ => $"nchw,{ChannelsLast}",
        };
        var command = new Command("large-batch-throughput", "Samples/s at large batches, whole vs micro-batches, ours vs PyTorch")
            { models, batches, micro, runs, samples, warmup, threads, python, root, link, linkModels, linkSteps, parts, peerLayouts };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var chosen = Items(parse.GetValue(parts)!);
            if (chosen.FirstOrDefault(p => p is not ("single" or "link")) is { } unknown)
                throw new UserFacingException($"--parts: '{unknown}' is not one of single, link");
            var dataRoot = parse.GetValue(root)!;
            var layouts = Items(parse.GetValue(peerLayouts)!).Distinct().ToList();
            if (layouts.Count == 0 || layouts.Any(l => l is not ("nchw" or ChannelsLast)))
                throw new UserFacingException($"--peer-layouts: '{string.Join(",", layouts)}' is not a list of nchw, {ChannelsLast}");
            if (chosen.Contains("single"))
                RunSingle(ParseModels("--models", parse.GetValue(models)!, [ModelKind.Cnn, ModelKind.ResNet20], "the PyTorch peer mirrors cnn and resnet20 only"), ParseSizes("--batches", parse.GetValue(batches)!), ParseSizes("--micro", parse.GetValue(micro)!),
                    parse.GetValue(runs), parse.GetValue(samples), parse.GetValue(warmup), parse.GetValue(threads), parse.GetValue(python)!, dataRoot, layouts);
            if (chosen.Contains("link") && parse.GetValue(link) is { } rate && rate != "none")
                RunLink(rate, ParseModels("--link-models", parse.GetValue(linkModels)!, [ModelKind.Mlp, ModelKind.Cnn], "mlp and cnn only"), parse.GetValue(linkSteps),
                    parse.GetValue(runs), dataRoot);
            return 0;
        }));
        return command;
    }

    /// <summary>The models of <paramref name="option"/>'s comma list; <paramref name="why"/> says why only <paramref name="allowed"/>.</summary>
    private static List<ModelKind> ParseModels(string option, string list, ModelKind[] allowed, string why)
    {
        var models = Items(list).Select(m => SpecChoice.ParseUserInput<ModelKind>(option, m, SpecNames.SpecName)).ToList();
        if (models.Any(m => !allowed.Contains(m)))
            throw new UserFacingException($"{option}: {why}");
        return models;
    }

    private static List<int> ParseSizes(string option, string list) =>
        [.. Items(list).Select(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= SpecVocabulary.MaxGlobalBatch
            ? n : throw new UserFacingException($"{option}: '{x}' is not a size from 1 to {SpecVocabulary.MaxGlobalBatch}"))];

    private static string[] Items(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private const string ChannelsLast = "channels-last";

    private static void RunSingle(List<ModelKind> models, List<int> batches, List<int> micros, int runs, int samples, int warmup, int threads, string python, string root,
        IReadOnlyList<string> peerLayouts)
    {
        int resolved = ThreadBudget.Apply(threads);
        var bench = new LargeBatchThroughput(root, resolved, samples, python, warmup);
        var data = DatasetRegistry.Load(new DataSpec(DatasetKind.FashionMnist, root, 0, 0, new AugmentSpec(0, false, 0)), 1);
        AnsiConsole.MarkupLineInterpolated($"one process x {resolved} thread(s), batch norm, >= {samples} timed samples and >= {LargeBatchThroughput.MinimumSteps} timed steps after {warmup} untimed step(s), {runs} alternating run(s) each");
        foreach (var model in models)
        {
            var cases = batches.SelectMany(b => micros.Where(m => m < b).Select(m => new ThroughputCase(model, b, m)).Prepend(new ThroughputCase(model, b, 0))).ToList();
            var ours = cases.ToDictionary(c => c, _ => new List<double>());
            var peer = peerLayouts.ToDictionary(l => l, _ => cases.ToDictionary(c => c, _ => new List<double>()));
            for (int run = 0; run < runs; run++)
                foreach (var c in cases)
                {
                    ours[c].Add(bench.MeasureOurs(c, data));
                    foreach (var layout in peerLayouts) peer[layout][c].Add(bench.MeasurePeer(c, layout == ChannelsLast));
                    AnsiConsole.MarkupLineInterpolated($"run {run + 1}: {c.Label} batch {c.Batch} {c.PassLabel}: ours {ours[c][^1]:F0}, PyTorch {string.Join(", ", peerLayouts.Select(l => $"{l} {peer[l][c][^1]:F0}"))} samples/s");
                }

            var table = new Table().Title(cases[0].Label).AddColumn("global batch").AddColumn("passes").AddColumn("ours (samples/s)");
            foreach (var layout in peerLayouts) table.AddColumn($"PyTorch 1.13 {layout} (samples/s)").AddColumn($"ours / PyTorch {layout}");
            foreach (var c in cases)
            {
                double o = BenchCommand.Median(ours[c]);
                table.AddRow([$"{c.Batch}", c.PassLabel, $"{o:F0}", .. peerLayouts.SelectMany(l =>
                {
                    double p = BenchCommand.Median(peer[l][c]);
                    return new[] { $"{p:F0}", $"{o / p:F2}" };
                })]);
            }
            AnsiConsole.Write(table);
            var smallest = cases.Where(c => c.MicroBatch == 0).MinBy(c => c.Batch)!;
            var largest = cases.Where(c => c.Batch == cases.Max(x => x.Batch)).MaxBy(c => BenchCommand.Median(ours[c]))!;
            double best = BenchCommand.Median(ours[largest]), small = BenchCommand.Median(ours[smallest]);
            AnsiConsole.MarkupLineInterpolated(
                $"{cases[0].Label}: batch {largest.Batch} at its best ({largest.PassLabel}) runs {best:F0} samples/s = [bold]{best / small:F2}x[/] batch {smallest.Batch} whole");
        }
    }

    /// <summary>
    /// Two workers (one rank per emulated node, 1 thread each) across a link shaped to <paramref name="rate"/>, per model
    /// (the MLP of 5.8M parameters where communication matters, the example CNN) and codec: step time next to its compute
    /// and synchronization parts, with overlap off and on; with several <paramref name="runs"/> the two alternate and the
    /// medians are over all runs' steps pooled.
    /// </summary>
    private static void RunLink(string rate, IReadOnlyList<ModelKind> models, int steps, int runs, string root)
    {
        var scratch = Directory.CreateTempSubdirectory("orchestrator-link-bench-");
        try
        {
            using var pair = ShapedLinkPair.Create(rate, scratch.FullName);
            foreach (var model in models)
                MeasureLink(pair, model, steps, runs, root, scratch.FullName);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>The overlap modes of the link part: none (compute and communication alone), the backward's, and the
    /// backward's plus the next forward's (<c>compression.overlap_forward</c>).</summary>
    private static readonly (string Label, string[] Settings)[] LinkModes =
    [
        ("off", ["compression.overlap=false"]),
        ("on", ["compression.overlap=true"]),
        ("on + next forward", ["compression.overlap=true", "compression.overlap_forward=true"]),
    ];

    private static void MeasureLink(ShapedLinkPair pair, ModelKind model, int steps, int runs, string root, string scratch)
    {
        var limit = TimeSpan.FromMinutes(15);
        var (width, label) = model == ModelKind.Mlp ? (256, "mlp w256 (5.8M parameters)") : (32, "cnn w32 (0.42M parameters)");
        var spec = new JobSpec("link-step", DeviceKind.Cpu, new ModelSpec(model, width, NormKind.Batch),
            new DataSpec(DatasetKind.FashionMnist, root, steps * 128, 1000, new AugmentSpec(0, false, 0)),
            new TrainingSpec(1, 128, new OptimizerSpec(OptimizerKind.Sgd, 0.05, 0.9, false, 5e-4), 1, 1),
            new CheckpointSpec(0, 1), 2, CompressionSpec.Default);
        (string Label, string[] Settings)[] codecs =
        [
            ("fp32 MPI_Allreduce", ["compression.codec=none", "compression.algorithm=mpi"]),
            ("fp32 ring", ["compression.codec=none", "compression.algorithm=ring"]),
            ("2:4+int8 ring", ["compression.codec=nm+int8", "compression.algorithm=ring"]),
        ];
        // Buckets of 1 MB (DDP's first bucket; later ones are 25 MB): a tensor is never split, so every weight of these
        // models gets its own bucket and the last layers' buckets can go while the first layers' backward runs. The same
        // buckets with and without overlap.
        const string Buckets = "compression.bucket_mb=1";
        AnsiConsole.MarkupLineInterpolated($"2 workers x 1 thread across a {pair.Rate} link (network namespaces), {label}, global batch 128, 1 MB buckets, {steps} steps, medians of steps 4..{steps}{(runs > 1 ? $" of {runs} alternating runs pooled" : "")}");
        var table = new Table().Title($"{model.SpecName()}, 2 workers, {pair.Rate} link").AddColumn("gradients").AddColumn("overlap").AddColumn("step (ms)").AddColumn("compute (ms)")
            .AddColumn("encode + allreduce (ms)").AddColumn("of it hidden (ms)").AddColumn("sent per step (MB)").AddColumn("sent at line rate (ms)")
            .AddColumn("step / max(compute, comm.)");
        // What the wire needs for the payload alone (no frame or TCP headers): no synchronization can be shorter.
        string LineTime(LinkedStepFigures figures) => $"{pair.LinkRate.SecondsFor(figures.BytesPerStep) * 1e3:F0}";
        foreach (var (codec, settings) in codecs)
        {
            string Folder(string overlap) => Path.Combine(scratch, $"{model.SpecName()}-{codec}-{overlap}".Replace(' ', '-').Replace(':', '-').Replace('+', '-'));
            // Without overlap the step's parts are compute and communication alone; overlap is judged against them. Runs
            // rotate which mode goes first, so a slow spell of the shared VM does not land on one side only.
            var measured = LinkModes.ToDictionary(m => m.Label, _ => new List<StepRecord>());
            for (int run = 0; run < runs; run++)
                for (int m = 0; m < LinkModes.Length; m++)
                {
                    var (mode, modeSettings) = LinkModes[(m + run) % LinkModes.Length];
                    measured[mode].AddRange(LinkedWorkersStep.Run(pair, spec, Folder(mode.Replace(' ', '-')), [.. settings, Buckets, .. modeSettings], limit));
                }
            var alone = LinkedWorkersStep.Summarize(measured[LinkModes[0].Label]);
            double bound = Math.Max(alone.ComputeSeconds, alone.SyncSeconds);
            foreach (var (mode, _) in LinkModes)
            {
                var figures = LinkedWorkersStep.Summarize(measured[mode]);
                string ratio = $"{figures.StepSeconds / bound:F2}";
                table.AddRow(codec, mode, $"{figures.StepSeconds * 1e3:F0}", $"{figures.ComputeSeconds * 1e3:F0}", $"{figures.SyncSeconds * 1e3:F0}",
                    $"{figures.HiddenSeconds * 1e3:F0}", $"{figures.BytesPerStep / 1e6:F1}", LineTime(figures), mode == "off" ? ratio : $"[bold]{ratio}[/]");
            }
        }
        AnsiConsole.Write(table);
    }
}
