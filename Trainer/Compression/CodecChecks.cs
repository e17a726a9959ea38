namespace Orchestrator.Trainer.Compression;

/// <summary>Argument checks shared by the codecs: a size mismatch is a caller bug, caught before any write.</summary>
internal static class CodecChecks
{
    public static void Encode(IGradientCodec codec, int elements, int outputBytes)
    {
        int expected = codec.EncodedBytes(elements);
        if (outputBytes != expected)
            throw new ArgumentException($"{codec.Name}: encoding {elements} values takes {expected} bytes, output has {outputBytes}.");
    }

    public static void Decode(IGradientCodec codec, int encodedBytes, int elements)
    {
        int expected = codec.EncodedBytes(elements);
        if (encodedBytes != expected)
            throw new ArgumentException($"{codec.Name}: {elements} values are encoded in {expected} bytes, got {encodedBytes}.");
    }
}
