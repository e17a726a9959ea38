using System.CommandLine;
using System.Globalization;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Emulation;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench cluster</c> (root): jobs on an emulated cluster (<c>cluster emulate</c>: one namespace, host name and
/// <c>tc</c>-shaped link per node, one silo per node), submitted and launched through the control plane like a user's:
/// per-step time and samples/s per node count, link rate, model and gradient codec, next to PyTorch DDP (gloo, plain and
/// with its compression hooks) on the same nodes and links; submit-to-first-step; the time from losing a node to training
/// again; and time to a target test accuracy, ours vs PyTorch. Results go to bench/results/cluster.md.
/// </summary>
public static class ClusterBenchCommand
{
    /// <summary>Our gradient codecs by their --codecs name. A codec of ours is one line here; the defaults name the ones measured.</summary>
    private static readonly (string Name, string Label, string[] Settings)[] Codecs =
    [
        ("fp32", "fp32 MPI_Allreduce", ["compression.codec=none", "compression.algorithm=mpi"]),
        ("int8", "int8 ring", ["compression.codec=int8", "compression.algorithm=ring"]),
        ("2:4", "2:4+int8 ring", ["compression.codec=nm+int8", "compression.n=2", "compression.m=4", "compression.algorithm=ring"]),
        ("1:2", "1:2+int8 ring", ["compression.codec=nm+int8", "compression.n=1", "compression.m=2", "compression.algorithm=ring"]),
        // PowerSGD (Vogels et al. 2019) as our own codec: low-rank, error feedback, warm start; fp32 sums of P and Q.
        ("psgd1", "PowerSGD r1 (ours)", ["compression.codec=powersgd", "compression.rank=1", "compression.algorithm=mpi"]),
        ("psgd2", "PowerSGD r2 (ours)", ["compression.codec=powersgd", "compression.rank=2", "compression.algorithm=mpi"]),
        ("psgd4", "PowerSGD r4 (ours)", ["compression.codec=powersgd", "compression.rank=4", "compression.algorithm=mpi"]),
    ];

    /// <summary>PyTorch 1.13 DDP (gloo) on the same nodes and links, by its --peers name.</summary>
    private static readonly (string Name, DdpHook Hook)[] Peers =
    [
        ("ddp", new DdpHook("PyTorch DDP gloo", "none")),
        ("ddp-fp16", new DdpHook("PyTorch DDP fp16 hook", "fp16")),
        ("ddp-psgd1", new DdpHook("PyTorch DDP PowerSGD r1", "powersgd", 1)),
        ("ddp-psgd2", new DdpHook("PyTorch DDP PowerSGD r2", "powersgd", 2)),
        ("ddp-psgd4", new DdpHook("PyTorch DDP PowerSGD r4", "powersgd", 4)),
    ];

    private const int GlobalBatch = 128;

    public static Command Create()
    {
        var nodes = new Option<string>("--nodes") { Description = "Node counts (one rank per node)", DefaultValueFactory = _ => "2,4" };
        var rates = new Option<string>("--rates") { Description = "Link rates (tc syntax)", DefaultValueFactory = _ => "100mbit,1gbit,10gbit" };
        var models = new Option<string>("--models") { Description = "Models: cnn (the example CNN, 0.42M parameters), mlp (w256, 5.8M parameters)", DefaultValueFactory = _ => "cnn,mlp" };
        var codecs = new Option<string>("--codecs") { Description = $"Our codecs: {Names(Codecs.Select(c => c.Name))} (the N:M ones with int8)", DefaultValueFactory = _ => "fp32,int8,2:4,1:2,psgd2" };
        var peers = new Option<string>("--peers") { Description = $"With --parts peer: PyTorch DDP rows, {Names(Peers.Select(p => p.Name))}", DefaultValueFactory = _ => "ddp,ddp-fp16,ddp-psgd1,ddp-psgd2,ddp-psgd4" };
        var accuracy = new Option<string>("--accuracy-runs") { Description = $"With --parts accuracy: ours ({Names(Codecs.Select(c => c.Name))}) and PyTorch ({Names(Peers.Select(p => p.Name))})", DefaultValueFactory = _ => "fp32,2:4,psgd2,ddp,ddp-psgd2" };
        var epochs = new Option<int>("--epochs") { Description = "With --parts accuracy: epochs every run trains", DefaultValueFactory = _ => 5 }.Between(1, 100);
        var target = new Option<double>("--target") { Description = "With --parts accuracy: the test accuracy to reach", DefaultValueFactory = _ => 0.90 };
        var python = new Option<string>("--python") { Description = "Python with PyTorch (Debian python3-torch)", DefaultValueFactory = _ => "/usr/bin/python3" };
        var steps = new Option<int>("--steps") { Description = "Steps per job (the first 3 are not measured)", DefaultValueFactory = _ => 12 }.Between(4, 10000);
        var parts = new Option<string>("--parts") { Description = "throughput (ours), peer (PyTorch DDP rows in the same tables), startup, recovery, accuracy (time to --target, 2 nodes, 1gbit, example CNN)", DefaultValueFactory = _ => "throughput,peer,startup,recovery,accuracy" };
        var root = new Option<string>("--root") { Description = "Fashion-MNIST directory", DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var command = new Command("cluster", "Jobs on an emulated cluster (root): step time per nodes x link x model x codec (and PyTorch DDP), start-up, node-loss recovery, time to accuracy")
            { nodes, rates, models, codecs, peers, steps, parts, accuracy, epochs, target, python, root };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var chosen = Items(parse.GetValue(parts)!);
            if (chosen.FirstOrDefault(p => p is not ("throughput" or "peer" or "startup" or "recovery" or "accuracy")) is { } unknown)
                throw new UserFacingException($"--parts: '{unknown}' is not one of throughput, peer, startup, recovery, accuracy");
            var ours = chosen.Contains("throughput") ? Items(parse.GetValue(codecs)!).Select(c => Pick(Codecs, c, "--codecs")).ToList() : [];
            var theirs = chosen.Contains("peer") ? Items(parse.GetValue(peers)!).Select(p => Pick(Peers, p, "--peers")).ToList() : [];
            var accuracyRuns = Items(parse.GetValue(accuracy)!).Select(AccuracyRun).ToList();
            var modelKinds = Items(parse.GetValue(models)!).Select(m => m switch
            {
                "cnn" => ModelKind.Cnn, "mlp" => ModelKind.Mlp,
                _ => throw new UserFacingException($"--models: '{m}' is not one of cnn, mlp"),
            }).ToList();
            var peer = (int n) => new DdpClusterPeer(n, parse.GetValue(python)!, parse.GetValue(root)!);
            var scratch = Directory.CreateTempSubdirectory("orchestrator-cluster-bench-");
            try
            {
                var spec = Path.Combine(scratch.FullName, "bench.yaml");
                File.WriteAllText(spec, SpecText(parse.GetValue(root)!));
                if (ours.Count + theirs.Count > 0)
                    foreach (var n in Items(parse.GetValue(nodes)!).Select(x => int.Parse(x, CultureInfo.InvariantCulture)))
                        foreach (var rate in Items(parse.GetValue(rates)!))
                            Throughput(scratch.FullName, spec, n, rate, modelKinds, ours, theirs, peer(n), parse.GetValue(steps));
                if (chosen.Contains("startup") || chosen.Contains("recovery"))
                    StartupAndRecovery(scratch.FullName, spec, chosen.Contains("startup"), chosen.Contains("recovery"));
                if (chosen.Contains("accuracy"))
                    TimeToAccuracy(scratch.FullName, spec, accuracyRuns, peer(2), parse.GetValue(epochs), parse.GetValue(target));
            }
            finally
            {
                EmulatedCluster.Down(Path.Combine(scratch.FullName, "emu"), _ => { });
                scratch.Delete(recursive: true);
            }
            return 0;
        }));
        return command;
    }

    private static string[] Items(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Percent(double fraction, int decimals) => (fraction * 100).ToString($"F{decimals}", CultureInfo.InvariantCulture) + "%";

    private static string Names(IEnumerable<string> names) => string.Join(", ", names);

    private static T Pick<T>((string Name, T Value)[] table, string name, string option) =>
        table.FirstOrDefault(e => e.Name == name) is { Name: not null } entry ? entry.Value
            : throw new UserFacingException($"{option}: '{name}' is not one of {Names(table.Select(e => e.Name))}");

    private static (string Label, string[] Settings) Pick((string Name, string Label, string[] Settings)[] table, string name, string option) =>
        Pick([.. table.Select(c => (c.Name, (c.Label, c.Settings)))], name, option);

    /// <summary>An --accuracy-runs entry: one of our codecs, or a PyTorch peer.</summary>
    private static (string Label, string[]? Settings, DdpHook? Hook) AccuracyRun(string name) =>
        Codecs.FirstOrDefault(c => c.Name == name) is { Name: not null } ourCodec ? ($"ours, {ourCodec.Label}", ourCodec.Settings, null)
        : Peers.FirstOrDefault(p => p.Name == name) is { Name: not null } theirs ? (theirs.Hook.Label, null, theirs.Hook)
        : throw new UserFacingException($"--accuracy-runs: '{name}' is not one of {Names(Codecs.Select(c => c.Name).Concat(Peers.Select(p => p.Name)))}");

    /// <summary>The benchmark's job: global batch 128 over the ranks, 1 thread each, batch norm, no checkpoints or metrics port.</summary>
    private static string SpecText(string root) => $"""
        name: bench
        workers: 2
        model: {"{"} kind: cnn, width: 32, norm: batch {"}"}
        data: {"{"} dataset: fashion-mnist, root: "{root}", train_subset: 0, test_subset: 1000 {"}"}
        training:
          epochs: 1
          global_batch: 128
          optimizer: {"{"} kind: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5e-4 {"}"}
          threads: 1
        compression: {"{"} bucket_mb: 25 {"}"}
        metrics: {"{"} port: 0 {"}"}
        checkpoint: {"{"} every_steps: 0, keep: 1 {"}"}
        """;

    private static string[] ModelSettings(ModelKind model) =>
        model == ModelKind.Mlp ? ["model.kind=mlp", "model.width=256"] : ["model.kind=cnn", "model.width=32"];

    private static void Throughput(string scratch, string spec, int nodes, string rate, List<ModelKind> models, List<(string Label, string[] Settings)> codecs,
        List<DdpHook> peers, DdpClusterPeer peer, int steps)
    {
        var options = new EmulatorOptions(nodes, rate, 1, Path.Combine(scratch, "emu"));
        EmulatedCluster.Up(options, Silos.Hosting.SiloSetup.DotnetHostPath(), Silos.Hosting.SiloSetup.EntryAssemblyPath(), _ => { });
        var jobs = new EmulatedClusterJobs(options);
        var table = new Table().Title($"{nodes} nodes x 1 rank x 1 thread, {rate} links, global batch {GlobalBatch}, medians of steps {EmulatedClusterJobs.SkippedSteps + 1}..{steps}")
            .AddColumn("model").AddColumn("gradients").AddColumn("step (ms)").AddColumn("compute (ms)").AddColumn("encode + allreduce (ms)")
            .AddColumn("sent per step (MB)").AddColumn("samples/s").AddColumn("vs fp32");
        var notes = new List<string>();
        try
        {
            foreach (var model in models)
            {
                double? fp32 = null;
                string VersusFp32(double samplesPerSecond) => fp32 is double f ? $"{samplesPerSecond / f:F2}x" : "-";
                foreach (var (label, settings) in codecs)
                {
                    var name = $"b-{model.SpecName()}-{nodes}-{new string([.. label.Where(char.IsLetterOrDigit)])}".ToLowerInvariant(); // unique per codec row
                    var figures = jobs.Run(spec, name, [.. ModelSettings(model), $"workers={nodes}", "placement.ranks_per_node=1",
                        $"data.train_subset={steps * GlobalBatch}", .. settings]);
                    var samplesPerSecond = GlobalBatch / figures.StepSeconds;
                    if (label.StartsWith("fp32", StringComparison.Ordinal)) fp32 = samplesPerSecond;
                    table.AddRow(model.SpecName(), label, $"{figures.StepSeconds * 1e3:F0}", $"{figures.ComputeSeconds * 1e3:F0}", $"{figures.SyncSeconds * 1e3:F0}",
                        $"{figures.BytesPerStep / 1e6:F2}", $"{samplesPerSecond:F0}", VersusFp32(samplesPerSecond));
                }
                foreach (var hook in peers)
                {
                    try
                    {
                        var figures = peer.Throughput(model.SpecName(), hook, GlobalBatch, steps, EmulatedClusterJobs.SkippedSteps);
                        table.AddRow(model.SpecName(), hook.Label, $"{figures.StepSeconds * 1e3:F0}", "-", "-", $"{figures.LinkBytesPerStep / 1e6:F2} (link)",
                            $"{figures.SamplesPerSecond:F0}", VersusFp32(figures.SamplesPerSecond));
                        notes.Add($"{model.SpecName()}, {hook.Label}: torch {figures.Torch}, {figures.Parameters:N0} parameters");
                    }
                    catch (UserFacingException e)
                    {
                        table.AddRow(model.SpecName(), hook.Label, "failed", "-", "-", "-", "-", "-");
                        notes.Add($"{model.SpecName()}, {hook.Label} failed: {e.Message}");
                    }
                }
            }
        }
        finally
        {
            EmulatedCluster.Down(options.Directory, _ => { });
        }
        AnsiConsole.Write(table);
        foreach (var note in notes.Distinct()) AnsiConsole.WriteLine(note);
    }

    /// <summary>
    /// Time to a target test accuracy on 2 nodes at 1 Gbit/s (example CNN, global batch 128, 1 thread per rank, full
    /// training set and test set): each run trains the same epochs; seconds are training time (evaluations excluded) to
    /// the end of the first epoch at the target.
    /// </summary>
    private static void TimeToAccuracy(string scratch, string spec, List<(string Label, string[]? Settings, DdpHook? Hook)> runs, DdpClusterPeer peer,
        int epochs, double target)
    {
        var options = new EmulatorOptions(2, "1gbit", 1, Path.Combine(scratch, "emu"));
        EmulatedCluster.Up(options, Silos.Hosting.SiloSetup.DotnetHostPath(), Silos.Hosting.SiloSetup.EntryAssemblyPath(), _ => { });
        var jobs = new EmulatedClusterJobs(options);
        var table = new Table().Title($"time to {Percent(target, 0)} test accuracy: 2 nodes x 1 rank x 1 thread, 1gbit links, example CNN, global batch {GlobalBatch}, {epochs} epochs each")
            .AddColumn("run").AddColumn("test accuracy after each epoch").AddColumn("final").AddColumn($"seconds to {Percent(target, 0)}").AddColumn("training seconds");
        try
        {
            foreach (var (label, settings, hook) in runs)
            {
                IReadOnlyList<EpochAccuracy> curve;
                try
                {
                    if (hook is not null) curve = peer.Epochs(ModelKind.Cnn.SpecName(), hook, GlobalBatch, epochs);
                    else
                    {
                        var name = $"acc-{runs.FindIndex(r => r.Label == label)}";
                        jobs.Submit(spec, name, [.. ModelSettings(ModelKind.Cnn), "workers=2", "placement.ranks_per_node=1", "data.train_subset=0",
                            "data.test_subset=0", $"training.epochs={epochs}", .. settings!]);
                        jobs.WaitSucceeded(name, limit: TimeSpan.FromMinutes(15 * epochs));
                        curve = jobs.Epochs(name);
                    }
                }
                catch (UserFacingException e)
                {
                    table.AddRow(label, $"failed: {Markup.Escape(e.Message.Split('\n')[0])}", "-", "-", "-");
                    continue;
                }
                var reached = EpochAccuracy.SecondsTo(curve, target);
                table.AddRow(label, string.Join(", ", curve.Select(e => Percent(e.TestAccuracy, 2))), curve.Count > 0 ? Percent(curve[^1].TestAccuracy, 2) : "-",
                    reached is double r ? $"{r:F0} (epoch {curve.First(e => e.TestAccuracy >= target).Epoch})" : "not reached",
                    curve.Count > 0 ? $"{curve[^1].TrainSeconds:F0}" : "-");
            }
        }
        finally
        {
            EmulatedCluster.Down(options.Directory, _ => { });
        }
        AnsiConsole.Write(table);
    }

    private static void StartupAndRecovery(string scratch, string spec, bool startup, bool recovery)
    {
        var options = new EmulatorOptions(3, "1gbit", 1, Path.Combine(scratch, "emu"));
        EmulatedCluster.Up(options, Silos.Hosting.SiloSetup.DotnetHostPath(), Silos.Hosting.SiloSetup.EntryAssemblyPath(), _ => { });
        var jobs = new EmulatedClusterJobs(options);
        try
        {
            if (startup)
            {
                var seconds = new List<double>();
                for (int run = 0; run < 3; run++)
                {
                    var name = $"startup-{run}";
                    seconds.Add(jobs.SecondsToFirstStep(spec, name, ["workers=2", "placement.ranks_per_node=1", "data.train_subset=1280"]));
                    jobs.WaitSucceeded(name);
                }
                AnsiConsole.MarkupLineInterpolated(
                    $"submit to first step, 2 nodes x 1 rank (example CNN): {string.Join(", ", seconds.Select(s => $"{s:F1} s"))}; median [bold]{BenchCommand.Median(seconds):F1} s[/]");
            }
            if (recovery)
            {
                const string Name = "recovery";
                jobs.Submit(spec, Name, ["workers=2", "placement.policy=spread", "training.epochs=3", "data.train_subset=12800", "checkpoint.every_steps=20",
                    "fault.restart_backoff_seconds=1"]);
                var metrics = RunLayout.Metrics(jobs.RunDirectory(Name));
                var deadline = DateTime.UtcNow.AddMinutes(5);
                while (!(File.Exists(metrics) && File.ReadLines(metrics).Count() >= 30))
                {
                    if (DateTime.UtcNow > deadline) throw new UserFacingException("the recovery job made no 30 steps within 5 minutes");
                    Thread.Sleep(200);
                }
                var seconds = jobs.SecondsToRecover(Name);
                AnsiConsole.MarkupLineInterpolated(
                    $"node loss (every process of rank 1's node killed, silo included) to the restarted gang's first step on the other nodes: [bold]{seconds:F1} s[/]");
            }
        }
        finally
        {
            EmulatedCluster.Down(options.Directory, _ => { });
        }
    }
}
