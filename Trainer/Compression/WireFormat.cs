namespace Orchestrator.Trainer.Compression;

/// <summary>
/// The packed wire format shared by every codec implementation (little-endian throughout).
/// For a bucket of n fp32 values:
/// <list type="bullet">
/// <item><b>none</b>: the n floats (4n bytes).</item>
/// <item><b>int8</b>: symmetric, per chunk of <see cref="QuantChunk"/> values: scale = max|x| / 127
/// (fp32, rounded to nearest while normal, rounded up on the subnormal grid, one ulp less for
/// max = float.MaxValue: <see cref="Int8Quantizer.ChunkScale"/>; 0 for an all-zero chunk, NaN for a chunk
/// with a NaN or an infinity), q = floor(x/scale) + (u &lt; frac(x/scale)) with u ~ U[0,1), so
/// E[q scale] = x and an exact 0 stays 0; stored as the byte q + 127 (0..254). Layout:
/// float32 scales[ceil(n/QuantChunk)], then uint8 q[n].</item>
/// <item><b>nm</b> (N:M pruning, MVUE or greedy): blocks of M consecutive values (the last block
/// zero-padded); each block keeps exactly N values (zeros allowed, so every block has the same size).
/// Layout: float32 values[N * blocks] (the kept values, already divided by their inclusion
/// probability for MVUE; N NaNs at positions 0..N-1 for a block with a NaN or an infinity, or one whose
/// MVUE values would pass float.MaxValue), then the in-block positions of the kept values, ceil(log2 M) bits each,
/// packed LSB-first in kept-value order, padded to a whole byte.</item>
/// <item><b>nm+int8</b>: nm whose kept values are int8-quantized as above: float32
/// scales[ceil(N*blocks/QuantChunk)], uint8 q[N * blocks], then the position bits.</item>
/// </list>
/// Rules both implementations keep (pinned by the cross-implementation tests): q is clamped to
/// [-127, 127]; decoding is exactly <c>(float)(q - 127) * scale</c> (one fp32 multiply, so every
/// worker decodes the same bytes to the same floats); encoders write N distinct positions per block
/// (zero fillers for sparse blocks) and decoders ADD the kept values at their positions; positions
/// past the end of a partial last block carry zeros; spare bits are zero.
/// Sizes: int8 = n + 4 ceil(n/1024) bytes (0.251 x fp32); 2:4+int8 = 5 bits/value + scales (0.157 x);
/// 1:2+int8 = 4.5 bits/value + scales (0.142 x).
/// </summary>
public static class WireFormat
{
    /// <summary>Values per int8 scale.</summary>
    public const int QuantChunk = 1024;

    /// <summary>Bits per kept value's in-block position: ceil(log2 M) (0 when M = 1).</summary>
    public static int PositionBits(int m) => m <= 1 ? 0 : 32 - int.LeadingZeroCount(m - 1);

    public static int Blocks(int elements, int m) => (elements + m - 1) / m;

    public static int Int8Bytes(int values) => 4 * ((values + QuantChunk - 1) / QuantChunk) + values;

    public static int PositionBytes(int elements, int n, int m) => (Blocks(elements, m) * n * PositionBits(m) + 7) / 8;

    public static int NmBytes(int elements, int n, int m) => 4 * Blocks(elements, m) * n + PositionBytes(elements, n, m);

    public static int NmInt8Bytes(int elements, int n, int m) => Int8Bytes(Blocks(elements, m) * n) + PositionBytes(elements, n, m);
}
