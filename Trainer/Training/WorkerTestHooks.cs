using Orchestrator.Trainer.Compression;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Every test hook a worker honours, in one place. They exist so the tests can prove recovery, divergence checks,
/// exactly-once sampling and metrics on real processes; none is part of the product. On the command line they are
/// hidden <c>train</c> options (<c>Silos/Commands/TrainTestHooks.cs</c> defines and parses them); two are environment
/// variables, because the control plane's launcher passes them to every worker of every launch:
/// <list type="bullet">
/// <item><c>--inject-nan STEP:RANK</c>, <c>--die-at STEP:RANK</c>, <c>--stall-at STEP:RANK</c>, <c>--perturb-at STEP:RANK</c>:
/// a non-finite gradient, an abrupt exit, a hang, parameters nudged off the other ranks' (<see cref="Faults"/>).</item>
/// <item><c>--stop-after STEP</c>: exit abruptly after STEP, as if killed (<see cref="StopAfter"/>).</item>
/// <item><c>--verify-every N</c>: compare parameter hashes across workers every N steps, default 100 (<see cref="VerifyEverySteps"/>).</item>
/// <item><c>--linger-seconds S</c>: keep the metrics endpoints up after training so a scraper reads the final values.</item>
/// <item><c>--variant 'a=1;b=2'</c> (repeatable): train several configurations one after the other in one MPI job.</item>
/// <item><c>--codec-implementation fused|torch</c>: force the gradient codecs' implementation.</item>
/// <item><see cref="StepDelayVariable"/> (milliseconds): sleep in every step, so control-plane tests can act mid-epoch.</item>
/// <item><see cref="EvaluationDelayVariable"/> (milliseconds): sleep in every evaluation, so the stall watch meets a slow one.</item>
/// <item><see cref="RecordSamplesVariable"/> = 1: each rank logs the sample indices of every step (<c>DIR/samples/</c>).</item>
/// </list>
/// </summary>
/// <param name="Faults">Injected faults (from the options and the step-delay variable); null = none.</param>
/// <param name="StopAfter">Exit abruptly after this step; null = train to the end.</param>
/// <param name="VerifyEverySteps">Parameter-hash comparison period across workers (0 = only after a resume and at the end).</param>
/// <param name="LingerSeconds">Seconds to keep the metrics endpoints up after training.</param>
/// <param name="Variants">Override sets to train one after the other; empty = the spec once.</param>
/// <param name="Implementation">Forced codec implementation; null = chosen by where the gradients live.</param>
public sealed record WorkerTestHooks(
    FaultInjection? Faults = null,
    long? StopAfter = null,
    int VerifyEverySteps = WorkerTestHooks.DefaultVerifyEverySteps,
    double LingerSeconds = 0,
    IReadOnlyList<string>? Variants = null,
    CodecImplementation? Implementation = null)
{
    /// <summary>The parameter-hash comparison period when no hook changes it.</summary>
    public const int DefaultVerifyEverySteps = 100;

    /// <summary>Milliseconds every step sleeps (control-plane tests).</summary>
    public const string StepDelayVariable = "ORCHESTRATOR_TEST_STEP_DELAY_MS";

    /// <summary>Milliseconds every evaluation sleeps (stall-watch tests).</summary>
    public const string EvaluationDelayVariable = "ORCHESTRATOR_TEST_EVAL_DELAY_MS";

    /// <summary>Set to <c>1</c>: each rank records the sample indices it trains on (exactly-once tests).</summary>
    public const string RecordSamplesVariable = "ORCHESTRATOR_RECORD_SAMPLES";

    /// <summary>No hooks: what a user's worker runs with.</summary>
    public static WorkerTestHooks None { get; } = new();
}
