namespace Orchestrator.Trainer.Telemetry;

/// <summary>Feeds the training loop's progress into a worker's <see cref="TrainerMetrics"/>.</summary>
public sealed class MetricsObserver(TrainerMetrics metrics) : ITrainingObserver
{
    public void OnStart(TrainingPlan plan) { }
    public void OnStep(StepRecord step) => metrics.ObserveStep(step);
    public void OnEvaluation(EvalRecord evaluation) => metrics.ObserveEvaluation(evaluation);
    public void OnNotice(string message) { }
    public void OnCheckpoint(long step) => metrics.CheckpointWritten();
}
