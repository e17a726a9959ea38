using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// A model held still while its inputs are optimised: every module in eval mode (running statistics neither used from
/// the batch nor updated) and no parameter requiring a gradient (nothing accumulates in <c>.grad</c>, and backward skips
/// the weight gradients). Disposing puts back each module's mode and each parameter's <c>requires_grad</c> as found.
/// </summary>
internal sealed class FrozenModel : IDisposable
{
    private readonly List<(nn.Module Module, bool Training)> modes;
    private readonly List<(Parameter Parameter, bool RequiresGrad)> parameters;

    public FrozenModel(nn.Module model)
    {
        // Parents before children, so restoring in this order leaves each module with its own flag even where
        // train(bool) on a parent has just set its children's.
        modes = [(model, model.training), .. model.named_modules().Where(m => !ReferenceEquals(m.module, model)).Select(m => (m.module, m.module.training))];
        parameters = model.parameters().Select(p => (p, p.requires_grad)).ToList();
        model.eval();
        foreach (var (p, _) in parameters) p.requires_grad = false;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var (p, requiresGrad) in parameters) p.requires_grad = requiresGrad;
        foreach (var (module, training) in modes) module.train(training);
    }
}
