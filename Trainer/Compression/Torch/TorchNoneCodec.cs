using Orchestrator.Spec;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>The uncompressed codec: the float32 values' own little-endian bytes (4n).</summary>
public sealed class TorchNoneCodec : ITensorCodec
{
    /// <inheritdoc/>
    public CodecKind Kind => CodecKind.None;

    /// <inheritdoc/>
    public string Name => Kind.SpecName();

    /// <inheritdoc/>
    public int EncodedBytes(int elements) => 4 * elements;

    /// <inheritdoc/>
    public Tensor Encode(Tensor flat, ulong seed) => TensorBits.FloatsToBytes(TorchCodecChecks.Input(flat));

    /// <inheritdoc/>
    public Tensor Decode(Tensor encoded, int elements) => TensorBits.BytesToFloats(TorchCodecChecks.Encoded(encoded, EncodedBytes(elements)), elements);
}
