using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary><c>norm: none</c>: an identity in place of every normalization layer.</summary>
public sealed class IdentityNormFactory : INormalizationFactory
{
    public nn.Module<Tensor, Tensor> Norm2d(long channels) => nn.Identity();
    public nn.Module<Tensor, Tensor> Norm1d(long features) => nn.Identity();
    public bool Normalizes => false;
}
