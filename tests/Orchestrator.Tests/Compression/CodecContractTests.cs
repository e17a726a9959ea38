using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Compression;

/// <summary>What every codec guarantees: exact wire sizes, every byte written, reproducible
/// encodings, DecodeAdd = accumulator + Decode, tails, zeros stay zero, scalar/vector decode agree.</summary>
public sealed class CodecContractTests
{
    public static TheoryData<string> Keys() => CodecTestData.CodecKeys();

    private static readonly int[] Lengths = [1, 3, 7, 1023, 1024, 1025, 4099];

    private static int Expected(string key, int n)
    {
        if (key == "none") return 4 * n;
        if (key.StartsWith("int8", StringComparison.Ordinal)) return n + 4 * ((n + 1023) / 1024);
        var nm = key.Split(' ')[1].Split(':');
        int kn = int.Parse(nm[0]), km = int.Parse(nm[1]);
        int blocks = (n + km - 1) / km, kept = blocks * kn;
        int bits = (int)Math.Ceiling(Math.Log2(km));
        int posBytes = (kept * bits + 7) / 8;
        return key.StartsWith("nm+int8", StringComparison.Ordinal) ? kept + 4 * ((kept + 1023) / 1024) + posBytes : 4 * kept + posBytes;
    }

    [Theory, MemberData(nameof(Keys))]
    public void EncodedBytesMatchesTheFormatAndEveryByteIsWritten(string key)
    {
        var codec = CodecTestData.Codecs[key]();
        foreach (int n in Lengths)
        {
            Assert.Equal(Expected(key, n), codec.EncodedBytes(n));
            var x = CodecTestData.Gradient(n, n);
            // Same seed into buffers pre-filled differently: equal results mean no byte was left unwritten.
            var a = new byte[codec.EncodedBytes(n)];
            var b = new byte[a.Length];
            Array.Fill(a, (byte)0xAA);
            Array.Fill(b, (byte)0x55);
            codec.Encode(x, a, 42);
            codec.Encode(x, b, 42);
            Assert.Equal(a, b);
            Assert.Throws<ArgumentException>(() => codec.Encode(x, new byte[a.Length + 1], 42));
            if (codec.EncodedBytes(n + 1) != a.Length) Assert.Throws<ArgumentException>(() => codec.Decode(a, new float[n + 1]));
        }
    }

    [Theory, MemberData(nameof(Keys))]
    public void SameSeedSameBytesDifferentSeedDifferentBytes(string key)
    {
        var codec = CodecTestData.Codecs[key]();
        var x = CodecTestData.Gradient(4099, 7);
        var a = new byte[codec.EncodedBytes(x.Length)];
        var b = new byte[a.Length];
        codec.Encode(x, a, 1);
        codec.Encode(x, b, 1);
        Assert.Equal(a, b);
        codec.Encode(x, b, 2);
        if (CodecTestData.IsStochastic(key)) Assert.NotEqual(a, b);
        else Assert.Equal(a, b);
    }

    [Theory, MemberData(nameof(Keys))]
    public void DecodeAddIsAccumulatorPlusDecode(string key)
    {
        var codec = CodecTestData.Codecs[key]();
        foreach (int n in Lengths)
        {
            var x = CodecTestData.Gradient(n, 3);
            var enc = new byte[codec.EncodedBytes(n)];
            codec.Encode(x, enc, 9);
            var decoded = new float[n];
            codec.Decode(enc, decoded);
            var acc = CodecTestData.Gradient(n, 4);
            var expected = acc.Select((v, i) => v + decoded[i]).ToArray();
            codec.DecodeAdd(enc, acc);
            Assert.Equal(expected, acc);
        }
    }

    [Theory, MemberData(nameof(Keys))]
    public void TailsDecodeToTheRightLengthAndZerosStayZero(string key)
    {
        var codec = CodecTestData.Codecs[key]();
        foreach (int n in Lengths)
        {
            var x = CodecTestData.Gradient(n, n + 1);
            var enc = new byte[codec.EncodedBytes(n)];
            codec.Encode(x, enc, 5);
            var y = new float[n];
            Array.Fill(y, float.NaN);
            codec.Decode(enc, y);
            for (int i = 0; i < n; i++)
            {
                Assert.True(float.IsFinite(y[i]), $"{key} n={n}: element {i} not written");
                if (x[i] == 0f) Assert.Equal(0f, y[i]);
            }
        }
    }

    [Theory, MemberData(nameof(Keys))]
    public void VectorAndScalarDecodersAgreeOnTheSameBytes(string key)
    {
        if (key == "none") return;
        string other = key.EndsWith("/scalar", StringComparison.Ordinal) ? key[..^"/scalar".Length] : key + "/scalar";
        var codec = CodecTestData.Codecs[key]();
        var twin = CodecTestData.Codecs[other]();
        foreach (int n in Lengths)
        {
            var x = CodecTestData.Gradient(n, 11);
            var enc = new byte[codec.EncodedBytes(n)];
            codec.Encode(x, enc, 3);
            var a = new float[n];
            var b = new float[n];
            codec.Decode(enc, a);
            twin.Decode(enc, b);
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void NoneRoundTripIsBitExact()
    {
        var codec = new NoneCodec();
        var x = CodecTestData.Gradient(1025, 1);
        x[3] = -0f;
        x[4] = float.Epsilon;
        var enc = new byte[codec.EncodedBytes(x.Length)];
        codec.Encode(x, enc, 0);
        var y = new float[x.Length];
        codec.Decode(enc, y);
        Assert.Equal(x.Select(BitConverter.SingleToInt32Bits), y.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void NmInt8SizesMatchTheDocumentedRatios()
    {
        // WireFormat: 2:4+int8 <= 5 bits per value plus scales, 1:2+int8 = 4.5 bits plus scales.
        int n = 1 << 20;
        Assert.Equal(n / 2 + 4 * (n / 2 / 1024) + n / 8, WireFormat.NmInt8Bytes(n, 2, 4));
        Assert.Equal(n / 2 + 4 * (n / 2 / 1024) + n / 16, WireFormat.NmInt8Bytes(n, 1, 2));
    }
}
