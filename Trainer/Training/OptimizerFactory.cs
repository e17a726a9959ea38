using Orchestrator.Spec;
using TorchSharp;
using Orchestrator.Trainer.Regimes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Builds the optimizer with two parameter groups: weights (decayed) and biases plus normalization
/// parameters (never decayed: decaying a BN scale or a bias only fights the normalization).
/// </summary>
public static class OptimizerFactory
{
    /// <summary>Biases and normalization scales/shifts are the one-dimensional parameters.</summary>
    public static bool IsDecayed(Parameter p) => p.dim() > 1;

    public static OptimizerHelper Create(OptimizerSpec spec, IEnumerable<Parameter> parameters) => spec.Kind switch
    {
        OptimizerKind.Sgd => CreateSgd(spec, parameters),
    };

    private static OptimizerHelper CreateSgd(OptimizerSpec spec, IEnumerable<Parameter> parameters)
    {
        var all = parameters.Where(p => p.requires_grad).ToList();
        var groups = new List<SGD.ParamGroup>
        {
            new(all.Where(IsDecayed), spec.Lr, spec.Momentum, 0, spec.WeightDecay, spec.Nesterov),
            new(all.Where(p => !IsDecayed(p)), spec.Lr, spec.Momentum, 0, 0, spec.Nesterov),
        };
        return optim.SGD(groups, spec.Lr, spec.Momentum, 0, 0, spec.Nesterov);
    }

    /// <summary>Applies one step's regime settings to both groups (weight decay to the decayed group only).</summary>
    public static void Apply(OptimizerHelper optimizer, OptimizerSettings settings)
    {
        bool decayed = true; // Create puts the decayed group first
        foreach (var group in optimizer.ParamGroups.Cast<SGD.ParamGroup>())
        {
            group.LearningRate = settings.Lr;
            var options = (SGD.Options)group.Options;
            options.momentum = settings.Momentum;
            options.nesterov = settings.Nesterov;
            options.weight_decay = decayed ? settings.WeightDecay : 0;
            decayed = false;
        }
    }
}
