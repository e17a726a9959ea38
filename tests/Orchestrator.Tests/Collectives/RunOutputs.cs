using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;

namespace Orchestrator.Tests.Collectives;

/// <summary>What the overlap tests read back from a finished run's folder.</summary>
internal static class RunOutputs
{
    /// <summary>summary.json's <c>overlapped_steps</c>: steps in which some bucket started before the backward ended.</summary>
    public static long OverlappedSteps(string run) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json"))).RootElement.GetProperty("overlapped_steps").GetInt64();

    /// <summary>The run's newest valid checkpoint (the final one).</summary>
    public static Checkpoint Final(string run) =>
        new CheckpointStore(RunLayout.Checkpoints(run), 3).LoadNewestValid(_ => { })
        ?? throw new Xunit.Sdk.XunitException($"{run} has no checkpoint");

    /// <summary>Both runs' final checkpoints hold the same bits: parameters, momentum and every rank's residuals.</summary>
    public static void AssertSameFinalState(string expectedRun, string actualRun, string label)
    {
        var expected = Final(expectedRun);
        var actual = Final(actualRun);
        Assert.True(expected.ModelState.AsSpan().SequenceEqual(actual.ModelState), $"{label}: parameters differ");
        Assert.True(expected.OptimizerState.AsSpan().SequenceEqual(actual.OptimizerState), $"{label}: momentum differs");
        Assert.True(expected.SynchronizerState.AsSpan().SequenceEqual(actual.SynchronizerState), $"{label}: error-feedback residuals differ");
    }
}
