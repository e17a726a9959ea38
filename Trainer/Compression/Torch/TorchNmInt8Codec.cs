using Orchestrator.Spec;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>N:M pruning then int8 quantization of the kept values: the int8 layout over N * blocks values, then the position bits.</summary>
public sealed class TorchNmInt8Codec : ITensorCodec
{
    private readonly int _n;
    private readonly int _m;
    private readonly PrunerKind _pruner;

    /// <summary>Keeps <paramref name="n"/> of every <paramref name="m"/> consecutive values (<see cref="NmPattern"/>), then quantizes them.</summary>
    public TorchNmInt8Codec(int n, int m, PrunerKind pruner)
    {
        NmPattern.Check(n, m);
        (_n, _m, _pruner) = (n, m, pruner);
    }

    /// <inheritdoc/>
    public CodecKind Kind => CodecKind.NmInt8;

    /// <inheritdoc/>
    public string Name => SpecNames.CodecLabel(Kind, new NmPattern(_n, _m), _pruner);

    /// <inheritdoc/>
    public int EncodedBytes(int elements) => WireFormat.NmInt8Bytes(elements, _n, _m);

    /// <inheritdoc/>
    public Tensor Encode(Tensor flat, ulong seed)
    {
        var input = TorchCodecChecks.Input(flat);
        using var scope = NewDisposeScope();
        // One stream for both stages: successive draws are independent, so the rounding noise is
        // independent of the sampling and E[decode] = E[kept] = x still holds.
        var uniform = new CounterUniform(seed);
        var (values, positions) = TorchNmPruning.Prune(input, _n, _m, _pruner, uniform);
        var quantized = TorchInt8Quantizer.Encode(values.flatten(), uniform);
        return cat([quantized, TensorBits.Pack(positions, WireFormat.PositionBits(_m))]).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor Decode(Tensor encoded, int elements)
    {
        TorchCodecChecks.Encoded(encoded, EncodedBytes(elements));
        using var scope = NewDisposeScope();
        int kept = WireFormat.Blocks(elements, _m) * _n;
        int valueBytes = WireFormat.Int8Bytes(kept);
        var values = TorchInt8Quantizer.Decode(encoded.narrow(0, 0, valueBytes), kept);
        return TorchNmLayout.Scatter(values, encoded.narrow(0, valueBytes, encoded.numel() - valueBytes), elements, _n, _m).MoveToOuterDisposeScope();
    }
}
