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
/// per-step time and samples/s per node count, link rate, model and gradient codec; submit-to-first-step; and the time
/// from losing a node to training again. Results go to bench/results/cluster.md.
/// </summary>
public static class ClusterBenchCommand
{
    private static readonly (string Label, string[] Settings)[] Codecs =
    [
        ("fp32 MPI_Allreduce", ["compression.codec=none", "compression.algorithm=mpi"]),
        ("int8 ring", ["compression.codec=int8", "compression.algorithm=ring"]),
        ("2:4+int8 ring", ["compression.codec=nm+int8", "compression.n=2", "compression.m=4", "compression.algorithm=ring"]),
        ("1:2+int8 ring", ["compression.codec=nm+int8", "compression.n=1", "compression.m=2", "compression.algorithm=ring"]),
    ];

    public static Command Create()
    {
        var nodes = new Option<string>("--nodes") { Description = "Node counts (one rank per node)", DefaultValueFactory = _ => "2,4" };
        var rates = new Option<string>("--rates") { Description = "Link rates (tc syntax)", DefaultValueFactory = _ => "100mbit,1gbit,10gbit" };
        var models = new Option<string>("--models") { Description = "Models: cnn (the example CNN, 0.42M parameters), mlp (w256, 5.8M parameters)", DefaultValueFactory = _ => "cnn,mlp" };
        var codecs = new Option<string>("--codecs") { Description = "Codecs: fp32, int8, 2:4, 1:2 (the N:M ones with int8)", DefaultValueFactory = _ => "fp32,int8,2:4,1:2" };
        var steps = new Option<int>("--steps") { Description = "Steps per job (the first 3 are not measured)", DefaultValueFactory = _ => 12 }.Between(4, 10000);
        var parts = new Option<string>("--parts") { Description = "throughput, startup, recovery", DefaultValueFactory = _ => "throughput,startup,recovery" };
        var root = new Option<string>("--root") { Description = "Fashion-MNIST directory", DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var command = new Command("cluster", "Jobs on an emulated cluster (root): step time per nodes x link x model x codec, start-up, node-loss recovery")
            { nodes, rates, models, codecs, steps, parts, root };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var chosen = Items(parse.GetValue(parts)!);
            if (chosen.FirstOrDefault(p => p is not ("throughput" or "startup" or "recovery")) is { } unknown)
                throw new UserFacingException($"--parts: '{unknown}' is not one of throughput, startup, recovery");
            var codecLabels = Items(parse.GetValue(codecs)!).Select(c => c switch
            {
                "fp32" => Codecs[0], "int8" => Codecs[1], "2:4" => Codecs[2], "1:2" => Codecs[3],
                _ => throw new UserFacingException($"--codecs: '{c}' is not one of fp32, int8, 2:4, 1:2"),
            }).ToList();
            var modelKinds = Items(parse.GetValue(models)!).Select(m => m switch
            {
                "cnn" => ModelKind.Cnn, "mlp" => ModelKind.Mlp,
                _ => throw new UserFacingException($"--models: '{m}' is not one of cnn, mlp"),
            }).ToList();
            var scratch = Directory.CreateTempSubdirectory("orchestrator-cluster-bench-");
            try
            {
                var spec = Path.Combine(scratch.FullName, "bench.yaml");
                File.WriteAllText(spec, SpecText(parse.GetValue(root)!));
                if (chosen.Contains("throughput"))
                    foreach (var n in Items(parse.GetValue(nodes)!).Select(x => int.Parse(x, CultureInfo.InvariantCulture)))
                        foreach (var rate in Items(parse.GetValue(rates)!))
                            Throughput(scratch.FullName, spec, n, rate, modelKinds, codecLabels, parse.GetValue(steps));
                if (chosen.Contains("startup") || chosen.Contains("recovery"))
                    StartupAndRecovery(scratch.FullName, spec, chosen.Contains("startup"), chosen.Contains("recovery"));
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

    private static void Throughput(string scratch, string spec, int nodes, string rate, List<ModelKind> models, List<(string Label, string[] Settings)> codecs, int steps)
    {
        var options = new EmulatorOptions(nodes, rate, 1, Path.Combine(scratch, "emu"));
        EmulatedCluster.Up(options, Silos.Hosting.SiloSetup.DotnetHostPath(), Silos.Hosting.SiloSetup.EntryAssemblyPath(), _ => { });
        var jobs = new EmulatedClusterJobs(options);
        var table = new Table().Title($"{nodes} nodes x 1 rank x 1 thread, {rate} links, global batch 128, medians of steps {EmulatedClusterJobs.SkippedSteps + 1}..{steps}")
            .AddColumn("model").AddColumn("gradients").AddColumn("step (ms)").AddColumn("compute (ms)").AddColumn("encode + allreduce (ms)")
            .AddColumn("sent per step (MB)").AddColumn("samples/s").AddColumn("vs fp32");
        try
        {
            foreach (var model in models)
            {
                double? fp32 = null;
                foreach (var (label, settings) in codecs)
                {
                    var name = $"b-{model.SpecName()}-{nodes}-{label.Split(' ')[0].Replace(':', '-').Replace('+', '-')}".ToLowerInvariant();
                    var figures = jobs.Run(spec, name, [.. ModelSettings(model), $"workers={nodes}", "placement.ranks_per_node=1",
                        $"data.train_subset={steps * 128}", .. settings]);
                    var samplesPerSecond = 128 / figures.StepSeconds;
                    if (label.StartsWith("fp32", StringComparison.Ordinal)) fp32 = samplesPerSecond;
                    table.AddRow(model.SpecName(), label, $"{figures.StepSeconds * 1e3:F0}", $"{figures.ComputeSeconds * 1e3:F0}", $"{figures.SyncSeconds * 1e3:F0}",
                        $"{figures.BytesPerStep / 1e6:F2}", $"{samplesPerSecond:F0}", fp32 is double f ? $"{samplesPerSecond / f:F2}x" : "-");
                }
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
