using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>fp32 conv (<see cref="ChannelsLastConv2d"/>: TorchSharp's Conv2d computed channels-last on the CPU) and linear layers: what every model is built from unless low precision or sparsity is asked for.</summary>
public sealed class DenseLayerFactory : ILayerFactory
{
    /// <summary>The one instance (the factory has no state).</summary>
    public static DenseLayerFactory Instance { get; } = new();

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> Conv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, bool bias = true) =>
        new ChannelsLastConv2d(inChannels, outChannels, kernel, stride, padding, bias);

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures, bool bias = true) =>
        nn.Linear(inFeatures, outFeatures, hasBias: bias);
}
