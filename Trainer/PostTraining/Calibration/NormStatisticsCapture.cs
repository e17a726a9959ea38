using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// Forward pre-hooks on normalization layers that record, at every call, the batch statistics of the layer's input
/// (differentiable, so a loss on them reaches the model's input). The layers themselves run untouched: in eval mode
/// they normalize by their running statistics and update nothing. Disposing removes the hooks.
/// </summary>
internal sealed class NormStatisticsCapture : IDisposable
{
    private readonly List<nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover> hooks = [];
    private readonly List<(int Layer, Tensor Mean, Tensor Std)> calls = [];

    /// <summary>Hooks every layer of <paramref name="layers"/>.</summary>
    public NormStatisticsCapture(IReadOnlyList<NormLayerTarget> layers)
    {
        for (int l = 0; l < layers.Count; l++)
        {
            int layer = l;
            var target = layers[l];
            hooks.Add(target.Module.register_forward_pre_hook((_, input) =>
            {
                var (mean, std) = target.BatchStatistics(input);
                // A model's forward may open dispose scopes of its own (a block around its layers) that would free these
                // when it returns: they are the capture's until Clear.
                calls.Add((layer, mean.DetachFromDisposeScope(), std.DetachFromDisposeScope()));
                return input;
            }));
        }
    }

    /// <summary>The statistics recorded since the last <see cref="Clear"/>, in call order (owned by the capture, valid
    /// until then).</summary>
    public IReadOnlyList<(int Layer, Tensor Mean, Tensor Std)> Calls => calls;

    /// <summary>Frees the recorded statistics (a loss built from them keeps what its backward needs).</summary>
    public void Clear()
    {
        foreach (var (_, mean, std) in calls)
        {
            mean.Dispose();
            std.Dispose();
        }
        calls.Clear();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var hook in hooks) hook.remove();
        hooks.Clear();
        Clear();
    }
}
