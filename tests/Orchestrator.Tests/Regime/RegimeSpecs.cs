using Orchestrator.Spec;

namespace Orchestrator.Tests.Regimes;

/// <summary>Training specs for regime tests.</summary>
internal static class RegimeSpecs
{
    public static readonly OptimizerSpec Sgd = new(OptimizerKind.Sgd, 0.05, 0.8, false, 5e-4);

    public static TrainingSpec TrainingOf(RegimeSpec? regime, int epochs = 10, int batch = 128, OptimizerSpec? optimizer = null) =>
        new(epochs, batch, optimizer ?? Sgd, Seed: 1, Threads: 1, Regime: regime);

    public static RegimeSpec PhasesOnly(params RegimePhase[] phases) =>
        new(LrScalingKind.None, 128, false, 0, 0, [.. phases]);

    /// <summary>
    /// The reference CIFAR ResNet regime (ALGORITHMS.md section 2): SGD momentum 0.9, wd 1e-4,
    /// lr 0.1 -> 0.01 @81 -> 1e-3 @122 -> 1e-4 @164, tuned for batch 128.
    /// </summary>
    public static RegimeSpec CifarResNet(LrScalingKind scaling = LrScalingKind.None, bool adapt = false) =>
        new(scaling, 128, adapt, 0, 0,
        [
            new RegimePhase(0, Lr: 0.1, Momentum: 0.9, WeightDecay: 1e-4),
            new RegimePhase(81, Lr: 0.01),
            new RegimePhase(122, Lr: 1e-3),
            new RegimePhase(164, Lr: 1e-4),
        ]);
}
