namespace Orchestrator.Trainer.Compression;

/// <summary>Bit-level access to the packed in-block positions (LSB-first, <c>bits</c> &lt;= 4 each, so
/// a position spans at most two bytes). Used by the scalar paths; the fast kernels write whole bytes.</summary>
internal static class PositionPacking
{
    /// <summary>ORs position <paramref name="value"/> in as entry <paramref name="index"/>; the span must start zeroed.</summary>
    public static void Write(Span<byte> packed, int index, int bits, int value)
    {
        int bit = index * bits;
        int word = value << (bit & 7);
        packed[bit >> 3] |= (byte)word;
        if ((bit & 7) + bits > 8) packed[(bit >> 3) + 1] |= (byte)(word >> 8);
    }

    /// <summary>Reads entry <paramref name="index"/>.</summary>
    public static int Read(ReadOnlySpan<byte> packed, int index, int bits)
    {
        int bit = index * bits;
        int word = packed[bit >> 3];
        if ((bit & 7) + bits > 8) word |= packed[(bit >> 3) + 1] << 8;
        return (word >> (bit & 7)) & ((1 << bits) - 1);
    }
}
