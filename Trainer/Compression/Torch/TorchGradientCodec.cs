using Orchestrator.Spec;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>
/// A torch-op codec (<see cref="ITensorCodec"/>) behind the <see cref="IGradientCodec"/> interface the
/// allreduce algorithms take, on CPU tensors made from the spans (copies in and out). Same wire format and
/// names as the fused kernels, so either implementation can encode a bucket and any rank decode it.
/// </summary>
/// <remarks>On CPU the torch ops run at a small fraction of the fused kernels' speed (PLATFORM.md "Codec
/// speed"): this span form serves the codec tests and benchmarks. The synchronizer's device path does not copy
/// values through spans: it averages a bucket where it lives (<c>Collectives.DeviceBucketValues</c>).</remarks>
public sealed class TorchGradientCodec(ITensorCodec inner) : IGradientCodec
{
    /// <inheritdoc/>
    public string Name => inner.Name;

    /// <inheritdoc/>
    public CodecKind Kind => inner.Kind;

    /// <inheritdoc/>
    public int EncodedBytes(int elements) => inner.EncodedBytes(elements);

    /// <inheritdoc/>
    public void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed)
    {
        CodecChecks.Encode(this, input.Length, output.Length);
        using var scope = NewDisposeScope();
        var encoded = inner.Encode(tensor(input.ToArray()), seed).contiguous();
        encoded.bytes.CopyTo(output);
    }

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> encoded, Span<float> output) => DecodeInto(encoded, output, add: false);

    /// <inheritdoc/>
    public void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator) => DecodeInto(encoded, accumulator, add: true);

    private void DecodeInto(ReadOnlySpan<byte> encoded, Span<float> output, bool add)
    {
        CodecChecks.Decode(this, encoded.Length, output.Length);
        using var scope = NewDisposeScope();
        var decoded = MemoryMarshal.Cast<byte, float>(inner.Decode(tensor(encoded.ToArray()), output.Length).contiguous().bytes);
        if (!add)
        {
            decoded.CopyTo(output);
            return;
        }
        // One fp32 add per value, as the fused DecodeAdd does, so sums agree bit for bit across implementations.
        for (int i = 0; i < output.Length; i++) output[i] += decoded[i];
    }
}
