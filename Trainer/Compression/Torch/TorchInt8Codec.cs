using Orchestrator.Spec;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>The int8 codec: per-1024-value symmetric scales and stochastically rounded bytes (<see cref="WireFormat"/>).</summary>
public sealed class TorchInt8Codec : ITensorCodec
{
    /// <inheritdoc/>
    public CodecKind Kind => CodecKind.Int8;

    /// <inheritdoc/>
    public string Name => Kind.SpecName();

    /// <inheritdoc/>
    public int EncodedBytes(int elements) => WireFormat.Int8Bytes(elements);

    /// <inheritdoc/>
    public Tensor Encode(Tensor flat, ulong seed)
    {
        var input = TorchCodecChecks.Input(flat);
        var uniform = new CounterUniform(seed);
        return TorchInt8Quantizer.Encode(input, uniform);
    }

    /// <inheritdoc/>
    public Tensor Decode(Tensor encoded, int elements) => TorchInt8Quantizer.Decode(TorchCodecChecks.Encoded(encoded, EncodedBytes(elements)), elements);
}
