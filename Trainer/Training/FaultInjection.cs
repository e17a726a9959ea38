using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Test hooks that make one worker misbehave at one step, so recovery paths can be exercised for
/// real: a non-finite gradient (every worker must skip that step together), a worker that dies or stalls, or one whose
/// parameters drift away from the others' (the cross-worker parameter check must fail the job).
/// </summary>
/// <param name="NonFiniteStep">Step whose gradient becomes NaN on <paramref name="NonFiniteRank"/>; null = never.</param>
/// <param name="DeathStep">Step at which <paramref name="DeathRank"/> exits abruptly (code 137, like SIGKILL); null = never.</param>
/// <param name="StallStep">Step at which <paramref name="StallRank"/> hangs forever (sleeps; the others block in the allreduce); null = never.</param>
/// <param name="StepDelay">Extra wall time every step takes on every worker (a slow model in miniature), so control-plane tests can
/// act in the middle of an epoch of a tiny job; zero = none.</param>
/// <param name="PerturbStep">Step at which <paramref name="PerturbRank"/>'s parameters are nudged off everybody else's (the
/// divergence the cross-worker parameter check must catch); null = never.</param>
public sealed record FaultInjection(long? NonFiniteStep = null, int NonFiniteRank = 0, long? DeathStep = null, int DeathRank = 0,
    long? StallStep = null, int StallRank = 0, TimeSpan StepDelay = default, long? PerturbStep = null, int PerturbRank = 0,
    TimeSpan EvaluationDelay = default)
{
    /// <summary>Milliseconds of <see cref="EvaluationDelay"/>: every evaluation takes that much longer (a slow test set in miniature).</summary>
    public const string EvaluationDelayVariable = WorkerTestHooks.EvaluationDelayVariable;

    /// <summary>Sleeps <see cref="EvaluationDelay"/> (called at the start of every evaluation).</summary>
    public void DelayEvaluation()
    {
        if (EvaluationDelay > TimeSpan.Zero) Thread.Sleep(EvaluationDelay);
    }

    /// <summary>Milliseconds of <see cref="StepDelay"/> for every launch of a job (read by <c>train</c>; the silo's environment reaches
    /// every worker through mpirun, so relaunches are slowed too).</summary>
    public const string StepDelayVariable = WorkerTestHooks.StepDelayVariable;

    /// <summary><paramref name="existing"/> with the step delay of <see cref="StepDelayVariable"/> when it is set.</summary>
    public static FaultInjection? WithEnvironmentDelay(FaultInjection? existing)
    {
        if (Milliseconds(StepDelayVariable) is { } step) existing = (existing ?? new FaultInjection()) with { StepDelay = step };
        if (Milliseconds(EvaluationDelayVariable) is { } evaluation) existing = (existing ?? new FaultInjection()) with { EvaluationDelay = evaluation };
        return existing;
    }

    private static TimeSpan? Milliseconds(string variable)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(text)) return null;
        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var ms) || ms is < 0 or > 60_000)
            throw new UserFacingException($"{variable}: expected milliseconds 0..60000, got '{text}'");
        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>Parses the CLI form <c>STEP:RANK</c> of <c>--stall-at</c>.</summary>
    public static FaultInjection ParseStall(string value, FaultInjection? existing)
    {
        var (step, rank) = ParseStepRank("--stall-at", value);
        return (existing ?? new FaultInjection()) with { StallStep = step, StallRank = rank };
    }

    /// <summary>Parses the CLI form <c>STEP:RANK</c> of <c>--perturb-at</c>.</summary>
    public static FaultInjection ParsePerturbation(string value, FaultInjection? existing)
    {
        var (step, rank) = ParseStepRank("--perturb-at", value);
        return (existing ?? new FaultInjection()) with { PerturbStep = step, PerturbRank = rank };
    }

    /// <summary>Parses the CLI form <c>STEP:RANK</c> of <c>--die-at</c>.</summary>
    public static FaultInjection ParseDeath(string value, FaultInjection? existing)
    {
        var (step, rank) = ParseStepRank("--die-at", value);
        return (existing ?? new FaultInjection()) with { DeathStep = step, DeathRank = rank };
    }

    /// <summary>Parses the CLI form <c>STEP:RANK</c>.</summary>
    public static FaultInjection ParseNonFinite(string value)
    {
        var (step, rank) = ParseStepRank("--inject-nan", value);
        return new FaultInjection(step, rank);
    }

    private static (long Step, int Rank) ParseStepRank(string option, string value)
    {
        var parts = value.Split(':');
        if (parts.Length != 2 || !long.TryParse(parts[0], out var step) || !int.TryParse(parts[1], out var rank))
            throw new UserFacingException($"{option}: expected STEP:RANK, got '{value}'");
        return (step, rank);
    }

    public void Apply(long step, int rank, IReadOnlyList<Parameter> parameters)
    {
        if (StepDelay > TimeSpan.Zero)
            Thread.Sleep(StepDelay);
        if (step == DeathStep && rank == DeathRank)
            Environment.Exit(137);
        if (step == StallStep && rank == StallRank)
            Thread.Sleep(Timeout.Infinite); // a real stall: the process lives, no step completes
        using var noGrad = no_grad();
        if (step == PerturbStep && rank == PerturbRank)
            parameters[0].add_(1e-3f); // what a silent bug (a rank that skipped or misapplied an update) would leave behind
        if (step == NonFiniteStep && rank == NonFiniteRank)
            parameters.First(p => p.grad is not null).grad!.fill_(float.NaN);
    }
}
