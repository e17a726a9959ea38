using Orchestrator.Spec;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// The values of one bucket while an <see cref="IAllreduceAlgorithm"/> averages them, wherever they live, with the codec
/// that encodes them there and (error feedback) the bucket's residual memory beside them. The algorithms address the
/// values by element ranges and see only encoded bytes in host buffers, so a bucket on a GPU is encoded and decoded
/// on the GPU and only its encodings cross to the host (<see cref="DeviceBucketValues"/>); host buckets use the fused
/// kernels on spans (<see cref="HostBucketValues"/>). Both produce the one <see cref="Compression.WireFormat"/>.
/// </summary>
public interface IBucketValues
{
    /// <summary>Number of values.</summary>
    int Length { get; }

    /// <summary>The codec's spec kind (the fp32 algorithm refuses any other than none).</summary>
    CodecKind CodecKind { get; }

    /// <summary>The codec's spec name (messages).</summary>
    string CodecName { get; }

    /// <summary>Whether residual memory is attached (error feedback on this bucket).</summary>
    bool HasResidual { get; }

    /// <summary>Exact size of the encoding of <paramref name="elements"/> values.</summary>
    int EncodedBytes(int elements);

    /// <summary>Encodes values [start, start + length) into <paramref name="output"/> (exactly <see cref="EncodedBytes"/>).</summary>
    void Encode(int start, int length, Span<byte> output, ulong seed);

    /// <summary>Overwrites values [start, start + length) with the decoding of <paramref name="encoded"/>.</summary>
    void Decode(ReadOnlySpan<byte> encoded, int start, int length);

    /// <summary>Adds the decoding of <paramref name="encoded"/> to values [start, start + length), one fp32 add per value.</summary>
    void DecodeAdd(ReadOnlySpan<byte> encoded, int start, int length);

    /// <summary>Sets every value to zero.</summary>
    void Clear();

    /// <summary>Divides every value by <paramref name="ranks"/> (a true, correctly rounded division).</summary>
    void DivideBy(int ranks);

    /// <summary>Copies values [start, start + length) into the residual memory (no-op without it).</summary>
    void KeepInResidual(int start, int length);

    /// <summary>Subtracts values [start, start + length) from the residual memory there (no-op without it).</summary>
    void SubtractFromResidual(int start, int length);

    /// <summary>Zeroes the residual memory (a codec with no error to carry; no-op without it).</summary>
    void ClearResidual();

    /// <summary>Runs <paramref name="body"/> on the values as fp32 in host memory and keeps what it wrote (the fp32 MPI
    /// path, whose wire format is the values themselves: a device bucket is staged through the host).</summary>
    void WithHostValues(HostValuesAction body);
}

/// <summary>Work on a bucket's values in host memory (<see cref="IBucketValues.WithHostValues"/>).</summary>
public delegate void HostValuesAction(Span<float> values);
