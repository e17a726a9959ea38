namespace Orchestrator.Trainer.Telemetry;

/// <summary>One optimizer step as written to <c>metrics.jsonl</c>.</summary>
/// <param name="Samples">Samples in this step's global batch.</param>
/// <param name="Seconds">Wall time of this step (data, forward, backward, synchronization, update).</param>
/// <param name="Elapsed">Wall time since the run (or resumed run) started.</param>
public sealed record StepRecord(long Step, int Epoch, double Lr, double Momentum, double Loss, double Accuracy, int Samples, double Seconds, double Elapsed);

/// <summary>One evaluation on the test split, written to <c>metrics.jsonl</c> after each epoch.</summary>
public sealed record EvalRecord(long Step, int Epoch, double TestLoss, double TestAccuracy);

/// <summary>What the run will do, announced once before the first step.</summary>
public sealed record TrainingPlan(long TotalSteps, int StepsPerEpoch, int Epochs, long StartStep, string Device, int Threads, long Parameters);
