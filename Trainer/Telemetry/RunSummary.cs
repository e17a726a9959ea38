namespace Orchestrator.Trainer.Telemetry;

/// <summary>The run's outcome, written to <c>summary.json</c>.</summary>
/// <param name="SamplesPerSecond">Training samples per second of step time (evaluation and checkpoints excluded).</param>
/// <param name="WallSeconds">Wall time of this process's run, start to finish.</param>
/// <param name="Updates">Optimizer updates applied (steps skipped for non-finite gradients excluded).</param>
/// <param name="Epochs">Epochs trained, after regime adaptation.</param>
/// <param name="ResumedFromStep">Step of the checkpoint this run resumed from; 0 for a fresh start.</param>
public sealed record RunSummary(
    string Name,
    long Steps,
    long Updates,
    int Epochs,
    double TestAccuracy,
    double TestLoss,
    double BestTestAccuracy,
    double SamplesPerSecond,
    double WallSeconds,
    string Device,
    int Threads,
    long Parameters,
    int TrainSamples,
    int TestSamples,
    long ResumedFromStep);
