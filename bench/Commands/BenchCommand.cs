using System.CommandLine;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary><c>orchestrator bench ...</c>: benchmarks that print figures (never timed asserts in tests).</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks against peer systems; prints tables to record in bench/results");
        command.Subcommands.Add(TrainBenchCommand.Create());
        command.Subcommands.Add(TrainBenchCommand.CreateWorker());
        command.Subcommands.Add(LargeBatchBenchCommand.Create());
        command.Subcommands.Add(LargeBatchThroughputBenchCommand.Create());
        command.Subcommands.Add(GhostBatchNormBenchCommand.Create());
        command.Subcommands.Add(CodecBenchCommand.Create());
        command.Subcommands.Add(CompressionAccuracyBenchCommand.Create());
        command.Subcommands.Add(AllreduceBenchCommand.Create());
        command.Subcommands.Add(MetricsBenchCommand.Create());
        command.Subcommands.Add(ControlPlaneBenchCommand.Create());
        command.Subcommands.Add(EvaluationBenchCommand.Create());
        command.Subcommands.Add(ClusterBenchCommand.Create());
        command.Subcommands.Add(InferenceBenchCommand.Create());
        command.Subcommands.Add(LowPrecisionBenchCommand.Create());
        command.Subcommands.Add(GradientBiasBenchCommand.Create());
        command.Subcommands.Add(SyntheticCalibrationBenchCommand.Create());
        return command;
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
