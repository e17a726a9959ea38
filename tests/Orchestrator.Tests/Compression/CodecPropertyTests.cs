using CsCheck;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;

namespace Orchestrator.Tests.Compression;

/// <summary>
/// Property tests of the gradient codecs (every codec and pruner, random N:M with 1 &lt;= N &lt; M &lt;= 16, the fused
/// kernels vectorized and scalar and the torch ops): for random buckets of 0..3000 values mixing zeros, subnormals,
/// normal values, values near float.MaxValue and now and then a NaN or an infinity, the wire size is the format's,
/// every byte and element is written, encodings and decodings are reproducible, N:M blocks keep at most N values,
/// zeros stay zero and signs never flip, finite buckets decode to finite values, and (README "Non-finite rule") a NaN
/// or infinity, or a block no N floats can carry, reports NaN in its own int8 chunk, N:M block or kept-value chunk
/// only. Iterations are fixed and single-threaded so the class runs in a few seconds on a shared machine.
/// </summary>
public sealed class CodecPropertyTests
{
    private const int FusedIterations = 300;
    private const int TorchIterations = 60;
    private const int Chunk = 1024;

    public enum Implementation { Fused, FusedScalar, Torch }

    /// <summary>A codec to build: kind, pruner, N:M (ignored by none and int8) and implementation.</summary>
    public sealed record CodecCase(CodecKind Kind, PrunerKind Pruner, int N, int M, Implementation Implementation)
    {
        public bool Prunes => Kind is CodecKind.Nm or CodecKind.NmInt8;

        public CompressionSpec Spec => CompressionSpec.Default with { Codec = Kind, N = N, M = M, Pruner = Pruner };

        public IGradientCodec Create()
        {
            if (Implementation == Implementation.Torch) return CodecImplementations.Create(Spec, CodecImplementation.TorchOps);
            if (Implementation == Implementation.Fused) return CodecImplementations.Create(Spec, CodecImplementation.Fused);
            INmPruner Pruning() => Pruner == PrunerKind.Mvue ? new MvuePruner(N, M, vectorized: false) : new GreedyPruner(N, M);
            return Kind switch
            {
                CodecKind.None => new NoneCodec(),
                CodecKind.Int8 => new Int8Codec(vectorized: false),
                CodecKind.Nm => new NmCodec(Pruning(), vectorized: false),
                _ => new NmInt8Codec(Pruning(), vectorized: false),
            };
        }

        public override string ToString() => $"{Kind} {N}:{M} {Pruner} {Implementation}";
    }

    /// <summary>N:M over the whole range, the kernels' own 1:2 and 2:4 more often.</summary>
    private static readonly Gen<(int N, int M)> Patterns = Gen.Frequency(
        (2, Gen.Const((1, 2))),
        (2, Gen.Const((2, 4))),
        (4, Gen.Int[2, NmPattern.MaxM].SelectMany(m => Gen.Int[1, m - 1].Select(n => (n, m)))));

    private static Gen<CodecCase> Codecs(params Implementation[] implementations) =>
        Gen.Select(
            Gen.Frequency((1, Gen.Const(CodecKind.None)), (2, Gen.Const(CodecKind.Int8)), (3, Gen.Const(CodecKind.Nm)), (3, Gen.Const(CodecKind.NmInt8))),
            Gen.Frequency((3, Gen.Const(PrunerKind.Mvue)), (1, Gen.Const(PrunerKind.Greedy))),
            Patterns,
            Gen.OneOf(implementations.Select(Gen.Const).ToArray()),
            (kind, pruner, nm, implementation) => new CodecCase(kind, pruner, nm.N, nm.M, implementation));

    private static readonly Gen<float> Sign = Gen.Bool.Select(negative => negative ? -1f : 1f);

    /// <summary>Every subnormal, from float.Epsilon up.</summary>
    private static readonly Gen<float> Subnormal = Gen.Select(Gen.Int[1, 0x007F_FFFF], Sign, (bits, s) => s * BitConverter.Int32BitsToSingle(bits));

    /// <summary>Normal floats with the exponent anywhere, 2^-126 to float.MaxValue.</summary>
    private static readonly Gen<float> AnyNormal = Gen.Select(Gen.Int[1, 254], Gen.Int[0, 0x007F_FFFF], Sign,
        (exponent, mantissa, s) => s * BitConverter.Int32BitsToSingle(exponent << 23 | mantissa));

    /// <summary>Gradient-like magnitudes around 1.</summary>
    private static readonly Gen<float> Typical = Gen.Select(Gen.Double[-20, 20], Sign, (log2, s) => s * (float)Math.Pow(2, log2));

    /// <summary>The top of the range: half the maximum up to float.MaxValue itself.</summary>
    private static readonly Gen<float> NearMax = Gen.Frequency(
        (4, Gen.Select(Gen.Double[0.5, 1], Sign, (f, s) => s * (float)(f * float.MaxValue))),
        (1, Sign.Select(s => s * float.MaxValue)));

    private static readonly Gen<float> NonFinite = Gen.OneOf(Gen.Const(float.NaN), Gen.Const(float.PositiveInfinity), Gen.Const(float.NegativeInfinity));

    private static readonly Gen<int> Lengths = Gen.Frequency(
        (4, Gen.Int[0, 3000]),
        (2, Gen.Int[0, 40]),
        (1, Gen.OneOf(Gen.Const(1023), Gen.Const(1024), Gen.Const(1025), Gen.Const(2047), Gen.Const(2048), Gen.Const(2049))));

    /// <summary>
    /// A bucket: a per-bucket mix of the magnitude classes (sometimes many zeros, sometimes many values near the
    /// maximum, so that some N:M blocks sum past N x float.MaxValue) and, in a third of the buckets, 1..3 non-finite values.
    /// </summary>
    private static Gen<float[]> Buckets(Gen<int> lengths) =>
        Gen.Select(lengths, Gen.OneOf(Gen.Const(0), Gen.Const(3), Gen.Const(20)), Gen.OneOf(Gen.Const(0), Gen.Const(1), Gen.Const(10)), Gen.Int[0, 8])
            .SelectMany(t =>
            {
                var (length, zeros, top, nonFinite) = t;
                var value = Gen.Frequency(
                    (zeros, Gen.OneOf(Gen.Const(0f), Gen.Const(-0f))),
                    (2, Subnormal),
                    (6, Typical),
                    (2, AnyNormal),
                    (top, NearMax));
                int count = length == 0 || nonFinite > 2 ? 0 : nonFinite + 1;
                return Gen.Select(value.Array[length, length], Gen.Select(Gen.Int[0, Math.Max(0, length - 1)], NonFinite).Array[count, count], (x, specials) =>
                {
                    foreach (var (at, v) in specials) x[at] = v;
                    return x;
                });
            });

    /// <summary>The format's size, written independently of <see cref="WireFormat"/>.</summary>
    private static int FormatBytes(CodecCase c, int elements)
    {
        int blocks = (elements + c.M - 1) / c.M, kept = blocks * c.N;
        int positionBytes = (kept * (int)Math.Ceiling(Math.Log2(c.M)) + 7) / 8;
        return c.Kind switch
        {
            CodecKind.None => 4 * elements,
            CodecKind.Int8 => elements + 4 * ((elements + Chunk - 1) / Chunk),
            CodecKind.Nm => 4 * kept + positionBytes,
            _ => kept + 4 * ((kept + Chunk - 1) / Chunk) + positionBytes,
        };
    }

    /// <summary>
    /// Per element, whether the rule lets it decode to non-finite: it shares an int8 chunk (int8), an N:M block (nm) or
    /// a chunk of kept values (nm+int8) with a non-finite input or with an MVUE block whose magnitudes come near
    /// N x float.MaxValue (the README's "block no N floats can carry"; 0.9 x that and below must decode finite).
    /// </summary>
    private static bool[] MayBeNonFinite(CodecCase c, float[] x)
    {
        var allowed = new bool[x.Length];
        switch (c.Kind)
        {
            case CodecKind.None:
                for (int i = 0; i < x.Length; i++) allowed[i] = !float.IsFinite(x[i]);
                break;
            case CodecKind.Int8:
                for (int start = 0; start < x.Length; start += Chunk)
                {
                    int end = Math.Min(x.Length, start + Chunk);
                    bool bad = HasNonFinite(x.AsSpan(start, end - start));
                    for (int i = start; i < end; i++) allowed[i] = bad;
                }
                break;
            default:
                int blocks = (x.Length + c.M - 1) / c.M;
                var badBlock = new bool[blocks];
                for (int b = 0; b < blocks; b++) badBlock[b] = BadBlock(c, Block(c, x, b));
                if (c.Kind == CodecKind.Nm)
                {
                    for (int i = 0; i < x.Length; i++) allowed[i] = badBlock[i / c.M];
                    break;
                }
                // nm+int8: a bad block's kept values make their chunks NaN, which reaches every block with kept values there.
                var badChunk = new bool[(blocks * c.N + Chunk - 1) / Chunk];
                for (int b = 0; b < blocks; b++)
                    if (badBlock[b])
                        for (int k = b * c.N; k < (b + 1) * c.N; k++) badChunk[k / Chunk] = true;
                for (int i = 0; i < x.Length; i++)
                {
                    int b = i / c.M;
                    allowed[i] = badChunk[b * c.N / Chunk] || badChunk[((b + 1) * c.N - 1) / Chunk];
                }
                break;
        }
        return allowed;
    }

    private static ReadOnlySpan<float> Block(CodecCase c, float[] x, int b) => x.AsSpan(b * c.M, Math.Min(c.M, x.Length - b * c.M));

    private static bool HasNonFinite(ReadOnlySpan<float> x)
    {
        foreach (float v in x) if (!float.IsFinite(v)) return true;
        return false;
    }

    private static bool BadBlock(CodecCase c, ReadOnlySpan<float> block)
    {
        if (HasNonFinite(block)) return true;
        if (c.Pruner != PrunerKind.Mvue) return false;
        double sum = 0;
        foreach (float v in block) sum += Math.Abs(v);
        return sum > 0.9 * c.N * float.MaxValue;
    }

    /// <summary>
    /// Blocks whose N largest magnitudes tie, or dwarf the rest below double precision, once made the torch water-filling
    /// saturate all N and divide by a budget of 0 (reported as NaN); the torch path must decode them finite, as the fused does.
    /// </summary>
    [Fact]
    public void The_vectorized_1_2_decoder_gives_positive_zeros_as_the_others_do()
    {
        var x = Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? -0f : 0f).ToArray();
        x[5] = -2f;
        var codec = new NmCodec(new GreedyPruner(1, 2));
        var encoded = new byte[codec.EncodedBytes(x.Length)];
        codec.Encode(x, encoded, seed: 1);
        var decoded = new float[x.Length];
        codec.Decode(encoded, decoded);
        Assert.Equal(-2f, decoded[5]);
        Assert.All(decoded.Where((_, i) => i != 5), v => Assert.Equal(0, BitConverter.SingleToInt32Bits(v)));
    }

    [Theory]
    [InlineData(2, 4, new[] { 1f, 1e-30f, 1f, 1e-30f })]
    [InlineData(2, 4, new[] { 1f, 1e-45f, 1f, 0f })]
    [InlineData(3, 8, new[] { 0f, 5.605136E-39f, -3.2792737f, 0f, 5.464113E-39f, 3.6207941E-31f, -2.148372f, 6.493724E-05f })]
    public void Torch_MVUE_keeps_blocks_with_saturating_ties_finite(int n, int m, float[] block)
    {
        var spec = CompressionSpec.Default with { Codec = CodecKind.Nm, N = n, M = m };
        foreach (var implementation in new[] { CodecImplementation.TorchOps, CodecImplementation.Fused })
        {
            var codec = CodecImplementations.Create(spec, implementation);
            for (ulong seed = 1; seed <= 20; seed++)
            {
                var encoded = new byte[codec.EncodedBytes(block.Length)];
                codec.Encode(block, encoded, seed);
                var decoded = new float[block.Length];
                codec.Decode(encoded, decoded);
                Assert.True(decoded.All(float.IsFinite), $"{implementation} seed {seed}: [{string.Join(", ", decoded)}]");
            }
        }
    }

    /// <summary>For a failure message: the element's N:M block in and out, as exact float literals.</summary>
    private static string Around(CodecCase c, float[] x, float[] y, int i)
    {
        if (!c.Prunes) return "";
        int start = i / c.M * c.M, length = Math.Min(c.M, x.Length - start);
        static string Literals(ReadOnlySpan<float> v) => string.Join(", ", v.ToArray().Select(f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f"));
        return $"; block [{Literals(x.AsSpan(start, length))}] decodes to [{Literals(y.AsSpan(start, length))}]";
    }

    private static bool SameBits(float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b) || float.IsNaN(a) && float.IsNaN(b);

    /// <summary>Encodes and decodes <paramref name="x"/> and checks every property; returns the encoding.</summary>
    private static byte[] RoundTrip(CodecCase c, IGradientCodec codec, float[] x, ulong seed)
    {
        int bytes = codec.EncodedBytes(x.Length);
        Assert.Equal(FormatBytes(c, x.Length), bytes);

        // Same seed into differently pre-filled buffers: equal bytes mean every byte is written and the encoding is reproducible.
        var encoded = new byte[bytes];
        var again = new byte[bytes];
        Array.Fill(encoded, (byte)0xAA);
        Array.Fill(again, (byte)0x55);
        codec.Encode(x, encoded, seed);
        codec.Encode(x, again, seed);
        Assert.Equal(encoded, again);

        // Decoding writes every one of the n values, the same way every time.
        var y = new float[x.Length];
        var twice = new float[x.Length];
        Array.Fill(y, 12345f);
        Array.Fill(twice, float.NegativeInfinity);
        codec.Decode(encoded, y);
        codec.Decode(encoded, twice);
        for (int i = 0; i < y.Length; i++)
            Assert.True(SameBits(y[i], twice[i]), $"{c}: element {i} decodes to {y[i]} and {twice[i]}");

        // DecodeAdd is one fp32 add of the decoded value per element.
        var accumulator = x.Select((v, i) => float.IsFinite(v) ? (i % 5 - 2) * 0.25f : 1f).ToArray();
        var expected = accumulator.Select((a, i) => a + y[i]).ToArray();
        codec.DecodeAdd(encoded, accumulator);
        for (int i = 0; i < y.Length; i++)
            Assert.True(SameBits(expected[i], accumulator[i]), $"{c}: DecodeAdd at {i} gives {accumulator[i]}, expected {expected[i]}");

        var mayBeNonFinite = MayBeNonFinite(c, x);
        for (int i = 0; i < x.Length; i++)
        {
            if (mayBeNonFinite[i]) continue;
            Assert.True(float.IsFinite(y[i]), $"{c}: element {i} = {x[i]} decodes to {y[i]} outside any non-finite input's unit{Around(c, x, y, i)}");
            if (x[i] == 0) Assert.True(y[i] == 0, $"{c}: zero at {i} decodes to {y[i]}");
            else Assert.True(y[i] == 0 || (y[i] > 0) == (x[i] > 0), $"{c}: element {i} = {x[i]} decodes to {y[i]} (sign flipped)");
        }
        if (c.Kind == CodecKind.None)
            for (int i = 0; i < x.Length; i++) Assert.True(SameBits(x[i], y[i]), $"{c}: element {i} = {x[i]} decodes to {y[i]}");

        if (c.Kind == CodecKind.Int8)
        {
            // A chunk with a NaN or an infinity decodes to NaN throughout.
            for (int start = 0; start < x.Length; start += Chunk)
            {
                int end = Math.Min(x.Length, start + Chunk);
                if (HasNonFinite(x.AsSpan(start, end - start)))
                    for (int i = start; i < end; i++) Assert.True(float.IsNaN(y[i]), $"{c}: element {i} of a non-finite chunk decodes to {y[i]}");
            }
        }
        if (c.Prunes)
        {
            for (int b = 0; b * c.M < x.Length; b++)
            {
                var block = y.AsSpan(b * c.M, Math.Min(c.M, x.Length - b * c.M));
                int kept = 0;
                foreach (float v in block) if (v != 0) kept++;   // a NaN counts as kept
                Assert.True(kept <= c.N, $"{c}: block {b} decodes to {kept} non-zeros, more than {c.N}");
                // A block with a NaN or an infinity: NaN at positions 0..N-1 (those inside the bucket), zeros elsewhere.
                if (HasNonFinite(Block(c, x, b)))
                    for (int j = 0; j < block.Length; j++)
                        Assert.True(j < c.N ? float.IsNaN(block[j]) : block[j] == 0, $"{c}: non-finite block {b} position {j} decodes to {block[j]}");
            }
        }
        return encoded;
    }

    [Fact]
    public void Fused_codecs_round_trip_with_the_format_and_the_non_finite_rule()
    {
        Gen.Select(Codecs(Implementation.Fused, Implementation.FusedScalar), Buckets(Lengths), Gen.ULong)
            .Sample((c, x, seed) => RoundTrip(c, c.Create(), x, seed), iter: FusedIterations, threads: 1);
    }

    [Fact]
    public void Fused_encodings_depend_on_the_input_and_seed_only()
    {
        // Each seed is reproducible across codec instances (no state carried between encodings).
        Gen.Select(Codecs(Implementation.Fused, Implementation.FusedScalar), Buckets(Gen.Int[1, 600]), Gen.ULong).Sample((c, x, seed) =>
        {
            var first = RoundTrip(c, c.Create(), x, seed);
            var other = c.Create();
            var encoded = new byte[first.Length];
            other.Encode(x.Reverse().ToArray(), encoded, seed ^ 1);   // something else in between
            other.Encode(x, encoded, seed);
            Assert.Equal(first, encoded);
        }, iter: FusedIterations / 2, threads: 1);
    }

    [Fact]
    public void Torch_op_codecs_round_trip_with_the_format_and_decode_like_the_fused_kernels()
    {
        Gen.Select(Codecs(Implementation.Torch), Buckets(Gen.Frequency((3, Gen.Int[0, 1200]), (1, Lengths))), Gen.ULong).Sample((c, x, seed) =>
        {
            var codec = c.Create();
            var encoded = RoundTrip(c, codec, x, seed);
            // The fused decoder reads the torch encoding to the same floats, bit for bit.
            var fromTorch = new float[x.Length];
            var fromFused = new float[x.Length];
            codec.Decode(encoded, fromTorch);
            (c with { Implementation = Implementation.Fused }).Create().Decode(encoded, fromFused);
            // Bit for bit, zero signs included (the vectorized 1:2 scatter once kept a -0 the others decode as +0).
            for (int i = 0; i < x.Length; i++)
                Assert.True(SameBits(fromTorch[i], fromFused[i]),
                    $"{c}: element {i} decodes to {fromTorch[i]} (torch) and {fromFused[i]} (fused)");
        }, iter: TorchIterations, threads: 1);
    }

    /// <summary>Wrong buffer sizes: an <see cref="ArgumentException"/> before anything is written, in either implementation.</summary>
    [Fact]
    public void Buffers_of_the_wrong_size_are_argument_exceptions()
    {
        Gen.Select(Codecs(Implementation.Fused, Implementation.FusedScalar, Implementation.Torch), Gen.Int[0, 2000], Gen.Int[-64, 64]).Sample((c, n, delta) =>
        {
            var codec = c.Create();
            int right = codec.EncodedBytes(n), wrong = Math.Max(0, right + delta);
            var x = new float[n];
            if (wrong != right)
            {
                var output = new byte[wrong];
                Array.Fill(output, (byte)0xAA);
                AssertArgumentException(() => codec.Encode(x, output, 1));
                Assert.All(output, b => Assert.Equal(0xAA, b));
                AssertArgumentException(() => codec.Decode(new byte[wrong], new float[n]));
                AssertArgumentException(() => codec.DecodeAdd(new byte[wrong], new float[n]));
            }
            // Decoding into a different element count whose size differs.
            int other = Math.Max(0, n + delta);
            if (codec.EncodedBytes(other) != right)
            {
                var y = new float[other];
                AssertArgumentException(() => codec.Decode(new byte[right], y));
                Assert.All(y, v => Assert.Equal(0f, v));
            }
        }, iter: FusedIterations, threads: 1);
    }

    /// <summary>N:M outside 1 &lt;= N &lt; M &lt;= 16 for a pruning codec: an <see cref="ArgumentOutOfRangeException"/> from either registry.</summary>
    [Fact]
    public void Patterns_outside_the_range_are_argument_exceptions()
    {
        Gen.Select(Gen.OneOf(Gen.Const(CodecKind.Nm), Gen.Const(CodecKind.NmInt8)), Gen.OneOf(Gen.Const(PrunerKind.Mvue), Gen.Const(PrunerKind.Greedy)),
                Gen.Int[-3, 20], Gen.Int[-3, 20], Gen.Bool)
            .Where((_, _, n, m, _) => !new NmPattern(n, m).IsValid)
            .Sample((kind, pruner, n, m, torch) =>
            {
                var spec = CompressionSpec.Default with { Codec = kind, N = n, M = m, Pruner = pruner };
                AssertArgumentException(() => CodecImplementations.Create(spec, torch ? CodecImplementation.TorchOps : CodecImplementation.Fused));
            }, iter: FusedIterations, threads: 1);
    }

    private static void AssertArgumentException(Action call)
    {
        var error = Record.Exception(call);
        Assert.NotNull(error);
        Assert.IsAssignableFrom<ArgumentException>(error);
    }
}
