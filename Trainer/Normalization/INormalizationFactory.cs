using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Builds the normalization layers of a model. Models ask the factory instead of constructing
/// BatchNorm themselves, so a new norm (ghost batch norm, range batch norm) plugs in without
/// touching any model.
/// </summary>
public interface INormalizationFactory
{
    /// <summary>Normalization over [N, C, H, W] activations with <paramref name="channels"/> channels.</summary>
    nn.Module<Tensor, Tensor> Norm2d(long channels);

    /// <summary>Normalization over [N, F] activations with <paramref name="features"/> features.</summary>
    nn.Module<Tensor, Tensor> Norm1d(long features);

    /// <summary>Whether the layers this factory builds normalize; convolutions before them then need no bias.</summary>
    bool Normalizes { get; }
}
