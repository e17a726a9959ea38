namespace Orchestrator.Trainer.Telemetry;

/// <summary>Receives training progress as it happens (progress bars, logs, later heartbeats).</summary>
public interface ITrainingObserver
{
    void OnStart(TrainingPlan plan);
    void OnStep(StepRecord step);
    void OnEvaluation(EvalRecord evaluation);
    /// <summary>Something the user should know that is not an error (e.g. a corrupt checkpoint was skipped).</summary>
    void OnNotice(string message);

    /// <summary>A checkpoint was written after <paramref name="step"/> (on the worker that writes them).</summary>
    void OnCheckpoint(long step) { }

    /// <summary>The worker starts <paramref name="activity"/> (and returns to <see cref="TrainingActivity.Training"/> after an
    /// evaluation or a checkpoint), so a long evaluation is not taken for a stall.</summary>
    void OnActivity(TrainingActivity activity) { }
}
