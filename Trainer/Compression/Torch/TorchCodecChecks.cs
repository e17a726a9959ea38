using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>Argument checks shared by the torch codecs; they read only shapes and dtypes, so no device sync.</summary>
internal static class TorchCodecChecks
{
    public static Tensor Input(Tensor flat)
    {
        if (flat.dtype != ScalarType.Float32 || flat.dim() != 1)
            throw new ArgumentException($"A codec encodes a 1-d float32 tensor; got {flat.dtype} with {flat.dim()} dims.", nameof(flat));
        return flat;
    }

    public static Tensor Encoded(Tensor encoded, int expectedBytes)
    {
        if (encoded.dtype != ScalarType.Byte || encoded.dim() != 1)
            throw new ArgumentException($"An encoding is a 1-d uint8 tensor; got {encoded.dtype} with {encoded.dim()} dims.", nameof(encoded));
        if (encoded.numel() != expectedBytes)
            throw new ArgumentException($"The encoding has {encoded.numel()} bytes; the element count implies {expectedBytes}.", nameof(encoded));
        return encoded;
    }
}
