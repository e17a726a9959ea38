using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.Training;

internal sealed class RecordingObserver : ITrainingObserver
{
    public List<StepRecord> Steps { get; } = [];
    public List<EvalRecord> Evaluations { get; } = [];
    public List<string> Notices { get; } = [];
    public TrainingPlan? Plan { get; private set; }

    public void OnStart(TrainingPlan plan) => Plan = plan;
    public void OnStep(StepRecord step) => Steps.Add(step);
    public void OnEvaluation(EvalRecord evaluation) => Evaluations.Add(evaluation);
    public void OnNotice(string message) => Notices.Add(message);
}
