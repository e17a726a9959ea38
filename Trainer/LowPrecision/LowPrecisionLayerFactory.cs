using Orchestrator.Trainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>Builds every conv and linear layer of a model on the low-precision path of <paramref name="lowPrecision"/>.</summary>
public sealed class LowPrecisionLayerFactory(LowPrecisionTraining lowPrecision) : ILayerFactory
{
    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> Conv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, bool bias = true) =>
        new LowPrecisionConv2d(nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding, bias: bias), lowPrecision);

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures, bool bias = true) =>
        new LowPrecisionLinear(nn.Linear(inFeatures, outFeatures, hasBias: bias), lowPrecision);
}
