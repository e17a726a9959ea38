namespace Orchestrator.Trainer.Telemetry;

/// <summary>Ignores all progress: for benchmarks and for the workers other than rank 0.</summary>
public sealed class NullTrainingObserver : ITrainingObserver
{
    public static readonly NullTrainingObserver Instance = new();

    private NullTrainingObserver() { }

    public void OnStart(TrainingPlan plan) { }
    public void OnStep(StepRecord step) { }
    public void OnEvaluation(EvalRecord evaluation) { }
    public void OnNotice(string message) { }
}
