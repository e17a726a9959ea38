using System.Runtime.InteropServices;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// A bucket that stays a tensor on its device (a GPU's in production; any device in tests): encoded and decoded there by
/// a torch-op codec (<see cref="ITensorCodec"/>), residuals kept there too, so what crosses to the host is each
/// encoding on its way to the wire and each received encoding on its way back, never the fp32 values (except for the
/// fp32 MPI path, <see cref="WithHostValues"/>, whose wire format they are). <see cref="HostBytes"/> counts what crossed.
/// </summary>
/// <remarks>Decoding adds with one fp32 add per value and divides with a true division, as the fused kernels do; the
/// random draws come from the device's generator, so a device rank and a host rank draw differently (the format and
/// the sizes are the same). Ranks of one job use one implementation, so each keeps every rank's parameters bit-identical.</remarks>
public sealed class DeviceBucketValues : IBucketValues
{
    private readonly Tensor values;
    private readonly Tensor? residual;
    private readonly ITensorCodec codec;

    /// <param name="values">The bucket: a 1-d contiguous float32 tensor on any device.</param>
    /// <param name="codec">Its torch-op codec.</param>
    /// <param name="residual">Null, or a tensor like <paramref name="values"/> receiving this rank's compression error.</param>
    public DeviceBucketValues(Tensor values, ITensorCodec codec, Tensor? residual = null)
    {
        if (values.dim() != 1 || values.dtype != ScalarType.Float32 || !values.is_contiguous())
            throw new ArgumentException($"a bucket is a 1-d contiguous float32 tensor, got {values.dtype} of shape [{string.Join(", ", values.shape)}]", nameof(values));
        if (residual is not null && (residual.shape[0] != values.shape[0] || residual.device_type != values.device_type || residual.device_index != values.device_index))
            throw new ArgumentException($"the residual needs {values.shape[0]} values on {values.device}, has {residual.shape[0]} on {residual.device}", nameof(residual));
        this.values = values;
        this.residual = residual;
        this.codec = codec;
    }

    /// <summary>Bytes copied between the device and the host so far, both ways.</summary>
    public long HostBytes { get; private set; }

    /// <inheritdoc/>
    public int Length => (int)values.shape[0];

    /// <inheritdoc/>
    public CodecKind CodecKind => codec.Kind;

    /// <inheritdoc/>
    public string CodecName => codec.Name;

    /// <inheritdoc/>
    public bool HasResidual => residual is not null;

    /// <inheritdoc/>
    public int EncodedBytes(int elements) => codec.EncodedBytes(elements);

    /// <inheritdoc/>
    public void Encode(int start, int length, Span<byte> output, ulong seed)
    {
        using var scope = NewDisposeScope();
        var encoded = codec.Encode(values.narrow(0, start, length), seed);
        var host = encoded.device_type == DeviceType.CPU ? encoded.contiguous() : encoded.cpu();
        if (host.shape[0] != output.Length)
            throw new InvalidOperationException($"{codec.Name} encoded {length} values into {host.shape[0]} bytes, the wire format says {output.Length}");
        host.bytes.CopyTo(output);
        HostBytes += output.Length;
    }

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> encoded, int start, int length)
    {
        using var scope = NewDisposeScope();
        values.narrow(0, start, length).copy_(Decoded(encoded, length));
    }

    /// <inheritdoc/>
    public void DecodeAdd(ReadOnlySpan<byte> encoded, int start, int length)
    {
        using var scope = NewDisposeScope();
        values.narrow(0, start, length).add_(Decoded(encoded, length));
    }

    /// <inheritdoc/>
    public void Clear() => values.zero_();

    /// <inheritdoc/>
    public void DivideBy(int ranks)
    {
        if (ranks == 1) return;
        // A tensor divisor on the values' device: ATen divides by it value by value (a scalar may become a
        // multiplication by its reciprocal on some devices, which rounds differently).
        using var divisor = full(1, (float)ranks, dtype: ScalarType.Float32, device: values.device);
        values.div_(divisor);
    }

    /// <inheritdoc/>
    public void KeepInResidual(int start, int length)
    {
        if (residual is null) return;
        using var scope = NewDisposeScope();
        residual.narrow(0, start, length).copy_(values.narrow(0, start, length));
    }

    /// <inheritdoc/>
    public void SubtractFromResidual(int start, int length)
    {
        if (residual is null) return;
        using var scope = NewDisposeScope();
        residual.narrow(0, start, length).sub_(values.narrow(0, start, length));
    }

    /// <inheritdoc/>
    public void ClearResidual() => residual?.zero_();

    /// <inheritdoc/>
    public void WithHostValues(HostValuesAction body)
    {
        if (values.device_type == DeviceType.CPU)
        {
            body(MemoryMarshal.Cast<byte, float>(values.bytes));
            return;
        }
        using var host = values.cpu();
        body(MemoryMarshal.Cast<byte, float>(host.bytes));
        values.copy_(host);
        HostBytes += 2L * host.shape[0] * sizeof(float);
    }

    /// <summary>The decoding of host bytes, on the values' device.</summary>
    private Tensor Decoded(ReadOnlySpan<byte> encoded, int length)
    {
        var staged = empty(encoded.Length, dtype: ScalarType.Byte);
        encoded.CopyTo(staged.bytes);
        HostBytes += encoded.Length;
        return codec.Decode(values.device_type == DeviceType.CPU ? staged : staged.to(values.device), length);
    }
}
