using Orchestrator.Spec;

namespace Orchestrator.Trainer.Compression;

/// <summary>Builds the CPU codec a <see cref="CompressionSpec"/> names: one arm per codec and pruner.</summary>
public static class CodecRegistry
{
    /// <summary>Creates the codec for <paramref name="spec"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A pruning codec with N:M outside <see cref="NmPattern"/>'s range
    /// (a validated spec has none).</exception>
    /// <exception cref="ArgumentException">Codec powersgd: it is biased and not a byte encoding, so no <see cref="IGradientCodec"/>
    /// (see <see cref="PowerSgdCompressor"/>).</exception>
    public static IGradientCodec Create(CompressionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Codec switch
        {
            CodecKind.None => new NoneCodec(),
            CodecKind.Int8 => new Int8Codec(),
            CodecKind.Nm => new NmCodec(CreatePruner(spec)),
            CodecKind.NmInt8 => new NmInt8Codec(CreatePruner(spec)),
            CodecKind.PowerSgd => throw new ArgumentException(
                $"{spec.CodecLabel} is a low-rank factorization averaged by PowerSgdAllreduce, not a byte codec of a bucket", nameof(spec)),
        };
    }

    /// <summary>Creates the N:M pruner for <paramref name="spec"/> (used by the nm codecs).</summary>
    /// <exception cref="ArgumentOutOfRangeException">N:M outside <see cref="NmPattern"/>'s range.</exception>
    public static INmPruner CreatePruner(CompressionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        // The pruners check the pattern themselves (NmPattern.Check).
        return spec.Pruner switch
        {
            PrunerKind.Mvue => new MvuePruner(spec.N, spec.M),
            PrunerKind.Greedy => new GreedyPruner(spec.N, spec.M),
        };
    }
}
