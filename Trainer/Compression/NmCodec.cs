using Orchestrator.Spec;
using System.Runtime.InteropServices;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// N:M pruning with fp32 kept values: the wire carries N values per block (already divided by their
/// inclusion probability for MVUE) and their packed in-block positions (<see cref="WireFormat"/> "nm").
/// </summary>
public sealed class NmCodec : IGradientCodec
{
    private readonly INmPruner _pruner;
    private readonly bool _vectorized;

    /// <summary>Creates the codec around <paramref name="pruner"/>; <paramref name="vectorized"/> = false
    /// forces the scalar decode kernels (the pruner has its own switch).</summary>
    public NmCodec(INmPruner pruner, bool vectorized = true)
    {
        _pruner = pruner;
        _vectorized = vectorized;
    }

    /// <summary>The pruning stage.</summary>
    public INmPruner Pruner => _pruner;

    /// <inheritdoc />
    public CodecKind Kind => CodecKind.Nm;

    /// <inheritdoc />
    public string Name => SpecNames.CodecLabel(Kind, new NmPattern(_pruner.N, _pruner.M), _pruner.Kind);

    /// <inheritdoc />
    public int EncodedBytes(int elements) => WireFormat.NmBytes(elements, _pruner.N, _pruner.M);

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed)
    {
        CodecChecks.Encode(this, input.Length, output.Length);
        int n = _pruner.N, m = _pruner.M;
        int blocks = WireFormat.Blocks(input.Length, m);
        var kept = MemoryMarshal.Cast<byte, float>(output[..(4 * n * blocks)]);
        var positions = output[(4 * n * blocks)..];
        var rng = new CodecRandom(seed);
        int seg = NmLayout.SegmentBlocks(n);
        for (int b0 = 0; b0 < blocks; b0 += seg)
        {
            int count = Math.Min(seg, blocks - b0);
            int start = b0 * m;
            var segInput = input.Slice(start, Math.Min(count * m, input.Length - start));
            NmLayout.PruneSegment(_pruner, segInput, count, kept.Slice(b0 * n, count * n),
                positions[NmLayout.PositionBytes(b0, n, m)..], ref rng);
        }
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> encoded, Span<float> output) => Decode(encoded, output, add: false);

    /// <inheritdoc />
    public void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator) => Decode(encoded, accumulator, add: true);

    private void Decode(ReadOnlySpan<byte> encoded, Span<float> output, bool add)
    {
        CodecChecks.Decode(this, encoded.Length, output.Length);
        int n = _pruner.N, blocks = WireFormat.Blocks(output.Length, _pruner.M);
        var kept = MemoryMarshal.Cast<byte, float>(encoded[..(4 * n * blocks)]);
        NmScatter.Scatter(n, _pruner.M, kept, encoded[(4 * n * blocks)..], output, add, _vectorized);
    }
}
