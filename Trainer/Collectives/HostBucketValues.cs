using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// A bucket in host memory, encoded by an <see cref="IGradientCodec"/> on spans (the fused kernels: the CPU path). A ref
/// struct over the caller's spans, so the algorithms run on it with no copy and no allocation.
/// </summary>
public readonly ref struct HostBucketValues : IBucketValues
{
    private readonly Span<float> values;
    private readonly Span<float> residual;
    private readonly IGradientCodec codec;

    /// <param name="values">The bucket.</param>
    /// <param name="codec">Its codec.</param>
    /// <param name="residual">Empty, or one residual value per bucket value.</param>
    public HostBucketValues(Span<float> values, IGradientCodec codec, Span<float> residual = default)
    {
        BucketMath.CheckResidual(values.Length, residual);
        this.values = values;
        this.residual = residual;
        this.codec = codec;
    }

    /// <inheritdoc/>
    public int Length => values.Length;

    /// <inheritdoc/>
    public CodecKind CodecKind => codec.Kind;

    /// <inheritdoc/>
    public string CodecName => codec.Name;

    /// <inheritdoc/>
    public bool HasResidual => !residual.IsEmpty;

    /// <inheritdoc/>
    public int EncodedBytes(int elements) => codec.EncodedBytes(elements);

    /// <inheritdoc/>
    public void Encode(int start, int length, Span<byte> output, ulong seed) => codec.Encode(values.Slice(start, length), output, seed);

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> encoded, int start, int length) => codec.Decode(encoded, values.Slice(start, length));

    /// <inheritdoc/>
    public void DecodeAdd(ReadOnlySpan<byte> encoded, int start, int length) => codec.DecodeAdd(encoded, values.Slice(start, length));

    /// <inheritdoc/>
    public void Clear() => values.Clear();

    /// <inheritdoc/>
    public void DivideBy(int ranks) => BucketMath.DivideBy(values, ranks);

    /// <inheritdoc/>
    public void KeepInResidual(int start, int length)
    {
        if (HasResidual) values.Slice(start, length).CopyTo(residual.Slice(start, length));
    }

    /// <inheritdoc/>
    public void SubtractFromResidual(int start, int length)
    {
        if (HasResidual) BucketMath.Subtract(residual.Slice(start, length), values.Slice(start, length));
    }

    /// <inheritdoc/>
    public void ClearResidual() => residual.Clear();

    /// <inheritdoc/>
    public void WithHostValues(HostValuesAction body) => body(values);
}
