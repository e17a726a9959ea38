namespace Orchestrator.Trainer.Telemetry;

/// <summary>Passes every event to each of several observers, in order (e.g. the progress view and the metrics).</summary>
public sealed class CompositeTrainingObserver(params ITrainingObserver[] observers) : ITrainingObserver
{
    /// <summary>The observers that are not <see cref="NullTrainingObserver"/>, combined; a single one is returned as is.</summary>
    public static ITrainingObserver Of(params ITrainingObserver?[] observers)
    {
        var live = observers.OfType<ITrainingObserver>().Where(o => o is not NullTrainingObserver).ToArray();
        return live.Length switch
        {
            0 => NullTrainingObserver.Instance,
            1 => live[0],
            _ => new CompositeTrainingObserver(live),
        };
    }

    public void OnStart(TrainingPlan plan) { foreach (var o in observers) o.OnStart(plan); }
    public void OnStep(StepRecord step) { foreach (var o in observers) o.OnStep(step); }
    public void OnEvaluation(EvalRecord evaluation) { foreach (var o in observers) o.OnEvaluation(evaluation); }
    public void OnNotice(string message) { foreach (var o in observers) o.OnNotice(message); }
    public void OnCheckpoint(long step) { foreach (var o in observers) o.OnCheckpoint(step); }
    public void OnActivity(TrainingActivity activity) { foreach (var o in observers) o.OnActivity(activity); }
}
