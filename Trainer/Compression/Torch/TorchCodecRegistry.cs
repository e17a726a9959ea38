using Orchestrator.Spec;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>Builds the torch-op codec a <see cref="CompressionSpec"/> names (the GPU path of the compressed allreduce).</summary>
public static class TorchCodecRegistry
{
    /// <summary>The codec for <c>spec.Codec</c>; N, M and the pruner apply to the N:M codecs only.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A pruning codec with N:M outside <see cref="NmPattern"/>'s range.</exception>
    /// <exception cref="ArgumentException">Codec powersgd, which is no byte codec (see <see cref="PowerSgdCompressor"/>).</exception>
    public static ITensorCodec Create(CompressionSpec spec) => spec.Codec switch
    {
        CodecKind.None => new TorchNoneCodec(),
        CodecKind.Int8 => new TorchInt8Codec(),
        CodecKind.Nm => new TorchNmCodec(spec.N, spec.M, spec.Pruner),
        CodecKind.NmInt8 => new TorchNmInt8Codec(spec.N, spec.M, spec.Pruner),
        CodecKind.PowerSgd => throw new ArgumentException(
            $"{spec.CodecLabel} is a low-rank factorization averaged by PowerSgdAllreduce, not a byte codec of a bucket", nameof(spec)),
    };
}
