using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>
/// Builds the conv and linear layers of a model. Models ask the factory instead of constructing them, so low-precision and
/// sparse layers (<c>training.quantize</c>, <c>training.gradient_sparsity</c>, <c>model.weight_sparsity</c>) plug in
/// without a model knowing, as normalization does through <c>INormalizationFactory</c>.
/// </summary>
public interface ILayerFactory
{
    /// <summary>A 2-d convolution with a square kernel.</summary>
    nn.Module<Tensor, Tensor> Conv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, bool bias = true);

    /// <summary>A fully connected layer.</summary>
    nn.Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures, bool bias = true);
}
