using Orchestrator.Spec;
namespace Orchestrator.Trainer.Compression;

/// <summary>
/// 8-bit symmetric quantization with one scale per <see cref="WireFormat.QuantChunk"/> values and
/// stochastic rounding (unbiased; |decoded - x| &lt;= scale; exact zeros stay zero).
/// </summary>
public sealed class Int8Codec : IGradientCodec
{
    private readonly bool _vectorized;

    /// <summary>Creates the codec; <paramref name="vectorized"/> = false forces the scalar kernels
    /// (same format and distribution; used to test the scalar path on AVX2 machines).</summary>
    public Int8Codec(bool vectorized = true) => _vectorized = vectorized;

    /// <inheritdoc />
    public CodecKind Kind => CodecKind.Int8;

    /// <inheritdoc />
    public string Name => Kind.SpecName();

    /// <inheritdoc />
    public int EncodedBytes(int elements) => WireFormat.Int8Bytes(elements);

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed)
    {
        CodecChecks.Encode(this, input.Length, output.Length);
        var rng = new CodecRandom(seed);
        Int8Quantizer.Encode(input, output, ref rng, _vectorized);
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> encoded, Span<float> output)
    {
        CodecChecks.Decode(this, encoded.Length, output.Length);
        Int8Quantizer.Decode(encoded, output.Length, 0, output, add: false, _vectorized);
    }

    /// <inheritdoc />
    public void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator)
    {
        CodecChecks.Decode(this, encoded.Length, accumulator.Length);
        Int8Quantizer.Decode(encoded, accumulator.Length, 0, accumulator, add: true, _vectorized);
    }
}
