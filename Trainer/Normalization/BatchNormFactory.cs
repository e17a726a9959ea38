using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>Plain batch normalization (statistics over the whole local batch).</summary>
public sealed class BatchNormFactory : INormalizationFactory
{
    public nn.Module<Tensor, Tensor> Norm2d(long channels) => nn.BatchNorm2d(channels);
    public nn.Module<Tensor, Tensor> Norm1d(long features) => nn.BatchNorm1d(features);
    public bool Normalizes => true;
}
