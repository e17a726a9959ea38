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
                calls.Add((layer, mean, std));
                return input;
            }));
        }
    }

    /// <summary>The statistics recorded since the last <see cref="Clear"/>, in call order (tensors owned by the dispose
    /// scope that was current during the forward).</summary>
    public IReadOnlyList<(int Layer, Tensor Mean, Tensor Std)> Calls => calls;

    /// <summary>Forgets the recorded statistics (before the next forward).</summary>
    public void Clear() => calls.Clear();

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var hook in hooks) hook.remove();
        hooks.Clear();
        calls.Clear();
    }
}
