using Orchestrator.Spec;
namespace Orchestrator.Trainer.Compression;

/// <summary>
/// N:M pruning followed by int8 quantization of the kept values (<see cref="WireFormat"/> "nm+int8"):
/// a composition of an <see cref="INmPruner"/> and the int8 stage, fused per segment: a segment's
/// blocks are pruned into a small staging buffer (in L1) that is quantized as soon as a whole
/// <see cref="WireFormat.QuantChunk"/> of kept values is there. Unbiased when the pruner is
/// (independent stochastic stages: E[Q(P(x))] = E[P(x)] = x).
/// </summary>
public sealed class NmInt8Codec : IGradientCodec
{
    private const int Chunk = WireFormat.QuantChunk;
    private readonly INmPruner _pruner;
    private readonly bool _vectorized;

    /// <summary>Creates the codec around <paramref name="pruner"/>; <paramref name="vectorized"/> = false
    /// forces the scalar quantize and decode kernels (the pruner has its own switch).</summary>
    public NmInt8Codec(INmPruner pruner, bool vectorized = true)
    {
        _pruner = pruner;
        _vectorized = vectorized;
    }

    /// <summary>The pruning stage.</summary>
    public INmPruner Pruner => _pruner;

    /// <inheritdoc />
    public CodecKind Kind => CodecKind.NmInt8;

    /// <inheritdoc />
    public string Name => SpecNames.CodecLabel(Kind, new NmPattern(_pruner.N, _pruner.M), _pruner.Kind);

    /// <inheritdoc />
    public int EncodedBytes(int elements) => WireFormat.NmInt8Bytes(elements, _pruner.N, _pruner.M);

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed)
    {
        CodecChecks.Encode(this, input.Length, output.Length);
        int n = _pruner.N, m = _pruner.M;
        int blocks = WireFormat.Blocks(input.Length, m);
        int keptTotal = blocks * n;
        int chunks = (keptTotal + Chunk - 1) / Chunk;
        var scales = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(output[..(4 * chunks)]);
        var q = output.Slice(4 * chunks, keptTotal);
        var positions = output[WireFormat.Int8Bytes(keptTotal)..];
        var rng = new CodecRandom(seed);
        int seg = NmLayout.SegmentBlocks(n);
        // A segment adds at most one chunk of kept values; below a chunk stays before each add.
        Span<float> staging = stackalloc float[2 * Chunk];
        int fill = 0, chunk = 0;
        for (int b0 = 0; b0 < blocks; b0 += seg)
        {
            int count = Math.Min(seg, blocks - b0);
            int start = b0 * m;
            var segInput = input.Slice(start, Math.Min(count * m, input.Length - start));
            NmLayout.PruneSegment(_pruner, segInput, count, staging.Slice(fill, count * n),
                positions[NmLayout.PositionBytes(b0, n, m)..], ref rng);
            fill += count * n;
            if (fill >= Chunk)
            {
                scales[chunk] = Int8Quantizer.QuantizeChunk(staging[..Chunk], q.Slice(chunk * Chunk, Chunk), ref rng, _vectorized);
                chunk++;
                fill -= Chunk;
                // Only when N does not divide the chunk (e.g. 3:8): carry the overflow to the front.
                if (fill > 0) staging.Slice(Chunk, fill).CopyTo(staging);
            }
        }
        if (fill > 0) scales[chunk] = Int8Quantizer.QuantizeChunk(staging[..fill], q.Slice(chunk * Chunk, fill), ref rng, _vectorized);
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> encoded, Span<float> output) => Decode(encoded, output, add: false);

    /// <inheritdoc />
    public void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator) => Decode(encoded, accumulator, add: true);

    private void Decode(ReadOnlySpan<byte> encoded, Span<float> output, bool add)
    {
        CodecChecks.Decode(this, encoded.Length, output.Length);
        int n = _pruner.N, m = _pruner.M;
        int blocks = WireFormat.Blocks(output.Length, m);
        int keptTotal = blocks * n;
        var positions = encoded[WireFormat.Int8Bytes(keptTotal)..];
        int seg = NmLayout.SegmentBlocks(n);
        Span<float> kept = stackalloc float[seg * n];
        for (int b0 = 0; b0 < blocks; b0 += seg)
        {
            // Dequantize one segment's kept values into L1, then spread them.
            int count = Math.Min(seg, blocks - b0);
            var segKept = kept[..(count * n)];
            Int8Quantizer.Decode(encoded, keptTotal, b0 * n, segKept, add: false, _vectorized);
            int start = b0 * m;
            NmScatter.Scatter(n, m, segKept, positions[NmLayout.PositionBytes(b0, n, m)..],
                output.Slice(start, Math.Min(count * m, output.Length - start)), add, _vectorized);
        }
    }
}
