namespace Orchestrator.Trainer.Regimes;

/// <summary>
/// What the optimizer uses for one update: the regime's answer for a step, applied to every
/// parameter group before that step (weight decay still reaches only the decayed group).
/// </summary>
/// <param name="Lr">Learning rate after scaling, schedule and warm-up.</param>
/// <param name="Momentum">SGD momentum.</param>
/// <param name="WeightDecay">L2 penalty for weights (never biases or normalization parameters).</param>
/// <param name="Nesterov">Nesterov momentum.</param>
public sealed record OptimizerSettings(double Lr, double Momentum, double WeightDecay, bool Nesterov);
