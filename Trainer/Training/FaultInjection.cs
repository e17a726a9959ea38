using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Test hooks that make one worker misbehave at one step, so recovery paths can be exercised for
/// real: a non-finite gradient (every worker must skip that step together), or a worker that dies.
/// </summary>
/// <param name="NonFiniteStep">Step whose gradient becomes NaN on <paramref name="NonFiniteRank"/>; null = never.</param>
/// <param name="DeathStep">Step at which <paramref name="DeathRank"/> exits abruptly (code 137, like SIGKILL); null = never.</param>
/// <param name="StallStep">Step at which <paramref name="StallRank"/> hangs forever (sleeps; the others block in the allreduce); null = never.</param>
public sealed record FaultInjection(long? NonFiniteStep = null, int NonFiniteRank = 0, long? DeathStep = null, int DeathRank = 0,
    long? StallStep = null, int StallRank = 0)
{
    /// <summary>Parses the CLI form <c>STEP:RANK</c> of <c>--stall-at</c>.</summary>
    public static FaultInjection ParseStall(string value, FaultInjection? existing)
    {
        var (step, rank) = ParseStepRank("--stall-at", value);
        return (existing ?? new FaultInjection()) with { StallStep = step, StallRank = rank };
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
            throw new Contracts.UserFacingException($"{option}: expected STEP:RANK, got '{value}'");
        return (step, rank);
    }

    public void Apply(long step, int rank, IReadOnlyList<Parameter> parameters)
    {
        if (step == DeathStep && rank == DeathRank)
            Environment.Exit(137);
        if (step == StallStep && rank == StallRank)
            Thread.Sleep(Timeout.Infinite); // a real stall: the process lives, no step completes
        if (step != NonFiniteStep || rank != NonFiniteRank) return;
        using var noGrad = no_grad();
        parameters.First(p => p.grad is not null).grad!.fill_(float.NaN);
    }
}
