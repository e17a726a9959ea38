using Orchestrator.Spec;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>
/// A gradient codec built from torch ops, so it runs wherever its input tensor lives (CPU or CUDA).
/// It produces exactly the packed layout of <see cref="WireFormat"/>, byte for byte in structure, so
/// an encoding made here decodes with the fused CPU codecs and vice versa. Only the random draws
/// differ between implementations (each uses its own generator), never the format.
/// </summary>
/// <remarks>On CPU these codecs are slower than the fused kernels (PLATFORM.md "Codec speed"); they are
/// the GPU path, where the bucket never leaves the device until its encoded bytes go to the wire, and a
/// readable reference for the format.</remarks>
public interface ITensorCodec
{
    /// <summary>Spec name: <c>none</c>, <c>int8</c>, or <c>nm</c> / <c>nm+int8</c> followed by "N:M pruner", e.g. <c>nm+int8 2:4 mvue</c>.</summary>
    string Name { get; }

    /// <summary>The spec's codec this is.</summary>
    CodecKind Kind { get; }

    /// <summary>Exact size in bytes of the encoding of <paramref name="elements"/> values (the <see cref="WireFormat"/> formula).</summary>
    int EncodedBytes(int elements);

    /// <summary>Encodes a 1-d float32 tensor on any device into a new 1-d uint8 tensor of exactly
    /// <see cref="EncodedBytes"/> bytes on the same device. All randomness comes from a generator
    /// seeded with <paramref name="seed"/> on that device, so the same seed gives the same bytes there.</summary>
    Tensor Encode(Tensor flat, ulong seed);

    /// <summary>Decodes a 1-d uint8 tensor (any device) holding the encoding of <paramref name="elements"/>
    /// values into a new 1-d float32 tensor on the same device.</summary>
    Tensor Decode(Tensor encoded, int elements);
}
