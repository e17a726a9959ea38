using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Telemetry;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Training;

/// <summary>How and where a <see cref="TrainingRun"/> executes (everything that is not the job spec).</summary>
/// <param name="Output">Run directory; null writes nothing (benchmarks).</param>
/// <param name="StopAfterStep">Stop abruptly after this step, as if the process were killed (no final
/// checkpoint, no summary). For tests of recovery and for fixed-length benchmarks.</param>
/// <param name="Resume">Continue from the newest valid checkpoint in the output directory, if any.</param>
/// <param name="EvaluateEverySteps">Also evaluate every N steps (besides every epoch end); for
/// benchmarks that need updates-to-accuracy curves. 0 = only at epoch ends.</param>
/// <param name="Faults">Test hooks that break a chosen step on a chosen worker.</param>
/// <param name="VerifyEverySteps">Compare a hash of every worker's parameters this often (and after a
/// resume and at the end); divergence fails the job. 0 = only after a resume and at the end.</param>
/// <param name="Directives">On rank 0: takes the control plane's pending directive (the worker link), polled once per
/// step; its value travels in the step's reduction so every rank applies it after the same step. Null = none.</param>
/// <param name="Samples">Records the dataset indices of every step on this rank (test evidence of exactly-once sampling); null = off.</param>
public sealed record TrainingOptions(
    Device Device,
    RunDirectory? Output,
    IGradientSynchronizer Synchronizer,
    ITrainingObserver Observer,
    long? StopAfterStep = null,
    bool Resume = true,
    int EvaluateEverySteps = 0,
    FaultInjection? Faults = null,
    int VerifyEverySteps = 100,
    Func<TrainerDirective>? Directives = null,
    SampleLog? Samples = null);
