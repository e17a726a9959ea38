namespace Orchestrator.Trainer.PostTraining.AdaQuant;

/// <summary>
/// AdaQuant's optimiser (ALGORITHMS.md section 9, CalibTIP's defaults): Adam on the weights (lr 1e-5), the bias (1e-3),
/// the weights' per-channel ranges (1e-3) and the input's range (1e-1), <paramref name="Iterations"/> steps, each on a
/// random batch of <paramref name="BatchSize"/> cached samples drawn with <paramref name="Seed"/>.
/// </summary>
public sealed record AdaQuantSettings(int Iterations = 1000, int BatchSize = 50, long Seed = 1,
    double WeightLr = 1e-5, double BiasLr = 1e-3, double WeightRangeLr = 1e-3, double ActivationRangeLr = 1e-1);
