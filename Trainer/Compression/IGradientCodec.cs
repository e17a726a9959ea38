using Orchestrator.Spec;
namespace Orchestrator.Trainer.Compression;

/// <summary>
/// Encodes a flat fp32 gradient bucket into the packed wire format and back. Implementations on the
/// CPU (fused vectorized kernels) and on torch tensors (the GPU path and the reference) produce the
/// same format, described in <see cref="WireFormat"/>. Every codec is unbiased:
/// E[Decode(Encode(g))] = g (except the greedy pruner, the biased baseline).
/// </summary>
public interface IGradientCodec
{
    /// <summary>The spec's codec this is (a test codec names the one it stands in for).</summary>
    CodecKind Kind { get; }

    /// <summary>The codec as summaries show it (<see cref="SpecNames.CodecLabel"/>): none, int8, or with the pattern and pruner, e.g. "2:4 mvue".</summary>
    string Name { get; }

    /// <summary>Exact size in bytes of the encoding of <paramref name="elements"/> values (fixed by the count alone).</summary>
    int EncodedBytes(int elements);

    /// <summary>Encodes <paramref name="input"/> into <paramref name="output"/> (exactly
    /// <see cref="EncodedBytes"/> bytes). All randomness (stochastic rounding, systematic sampling)
    /// comes from <paramref name="seed"/>, so an encoding is reproducible.</summary>
    void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed);

    /// <summary>Writes the decoded values over <paramref name="output"/> (length = element count).</summary>
    void Decode(ReadOnlySpan<byte> encoded, Span<float> output);

    /// <summary>Adds the decoded values into <paramref name="accumulator"/> (length = element count).</summary>
    void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator);
}
