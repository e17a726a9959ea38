using Orchestrator.Spec;
namespace Orchestrator.Trainer.Compression;

/// <summary>
/// N:M pruning of whole blocks: every block of M consecutive values becomes exactly N kept values
/// (zeros allowed) and their in-block positions, in the layout of <see cref="WireFormat"/>
/// ("nm"). Pruners are the first stage of <see cref="NmCodec"/> and <see cref="NmInt8Codec"/>.
/// </summary>
public interface INmPruner
{
    /// <summary>Values kept per block (1 &lt;= N &lt; M, <see cref="NmPattern"/>).</summary>
    int N { get; }

    /// <summary>Block length (M &lt;= 16).</summary>
    int M { get; }

    /// <summary>The spec's pruner this is.</summary>
    PrunerKind Kind { get; }

    /// <summary>Whether E[kept values scattered back] = input (MVUE) or not (greedy).</summary>
    bool Unbiased { get; }

    /// <summary>
    /// Prunes <paramref name="input"/> (whole blocks: a multiple of M values) into
    /// <paramref name="kept"/> (N per block, already divided by their inclusion probability) and
    /// <paramref name="positions"/> (WireFormat.PositionBits(M) bits per kept value, LSB-first,
    /// starting at bit 0 of the span; every byte of the span is written, padding bits zero).
    /// Randomness, if any, comes from <paramref name="rng"/>.
    /// </summary>
    void Prune(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, ref CodecRandom rng);
}
