using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Compression;

/// <summary>
/// The fused CPU kernels and the torch-op codecs draw from different generators, so their bytes differ
/// for one seed; what must agree is the distribution. For one input and many seeds per implementation,
/// every element's inclusion frequency (which values survive pruning), rounding-up frequency (int8) and
/// decoded mean and variance are compared between the implementations and with the exact values
/// (<see cref="ElementLaw"/>: MVUE probabilities, stochastic rounding), each within Z binomial or normal
/// standard deviations. The seeds are fixed, so the outcome is reproducible; Z = 5 over the ~3,000 checks
/// keeps a false alarm near one in 500 (normal tails), while a probability off by 0.05 or a rounding
/// that is 10% too eager fails dozens of them.
/// </summary>
public sealed class CrossImplementationDistributionTests
{
    private const int Draws = 2000;
    private const double Z = 5;
    private const int TorchCopies = 50; // per torch call; Draws is a multiple

    public static TheoryData<string, int, int> Specs => new()
    {
        { "int8", 2, 4 },
        { "nm", 2, 4 },
        { "nm", 1, 2 },
        { "nm+int8", 2, 4 },
        { "nm+int8", 1, 2 },
    };

    /// <summary>
    /// 66 values: whole AVX2 groups of blocks plus a partial block (so the fused vector kernels and their
    /// scalar tails both run; the torch copies pad it with zeros, the same block to a codec). Block by
    /// block (2:4 view): a dominant value that MVUE saturates, exactly two non-zeros (kept as they are),
    /// one non-zero, an all-zero block, an exact zero among three non-zeros; then Gaussian values small enough that the dominant block fixes every int8 scale (a random scale
    /// would make the rounding probabilities random too).
    /// </summary>
    private static float[] Input()
    {
        float[] head = [9f, 0.5f, -0.3f, 0.2f, 0f, 1.5f, 0f, -0.7f, 0f, 0f, 2f, 0f, 0f, 0f, 0f, 0f, 0.4f, 0f, -1.1f, 0.9f];
        var rng = new Random(17);
        var x = new float[66];
        head.CopyTo(x, 0);
        for (int i = head.Length; i < x.Length; i++)
            x[i] = (float)(0.8 * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return x;
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void The_two_implementations_agree_in_distribution(string codecName, int n, int m)
    {
        var spec = CompressionSpec.Default with { Codec = Named.Codec(codecName), N = n, M = m, Pruner = PrunerKind.Mvue };
        (int, int)? pruning = spec.Codec.Prunes() ? (n, m) : null;
        bool quantized = codecName.EndsWith("int8", StringComparison.Ordinal);
        var x = Input();
        var laws = Laws(x, pruning, quantized);

        var fused = CodecRegistry.Create(spec);
        var bytes = new byte[fused.EncodedBytes(x.Length)];
        var decoded = new float[x.Length];
        var cpu = new Tally(laws);
        for (int k = 0; k < Draws; k++)
        {
            fused.Encode(x, bytes, seed: (ulong)k + 1);
            fused.Decode(bytes, decoded);
            cpu.Add(WireChoices.Read(bytes, x.Length, pruning, quantized), decoded, 0);
        }

        // The torch ops cost about a millisecond per call on CPU whatever the size, so each call encodes
        // many copies of the input (padded to whole blocks): every block draws its own u and every value
        // its own rounding noise from the call's generator, so the copies are independent draws.
        var torchCodec = TorchCodecRegistry.Create(spec);
        var torchTally = new Tally(laws);
        int stride = (x.Length + 3) / 4 * 4; // whole blocks for M = 2 and 4
        var copies = new float[TorchCopies * stride];
        for (int c = 0; c < TorchCopies; c++) x.CopyTo(copies, c * stride);
        using (var input = tensor(copies))
        {
            for (int call = 0; call < Draws / TorchCopies; call++)
            {
                using var scope = NewDisposeScope();
                var encoded = torchCodec.Encode(input, seed: (ulong)call + 1);
                var choices = WireChoices.Read(encoded.data<byte>().ToArray(), copies.Length, pruning, quantized);
                var values = torchCodec.Decode(encoded, copies.Length).data<float>().ToArray();
                for (int c = 0; c < TorchCopies; c++) torchTally.Add(choices, values, c * stride);
            }
        }

        var failures = new List<string>();
        for (int i = 0; i < x.Length; i++)
        {
            var law = laws[i];
            if (pruning is not null && x[i] != 0)
                Frequencies(failures, $"[{i}] kept", law.Keep, cpu.Kept[i], Draws, torchTally.Kept[i], Draws);
            if (quantized && law.Keep > 0)
                Frequencies(failures, $"[{i}] rounded up", law.Up, cpu.Up[i], cpu.Kept[i], torchTally.Up[i], torchTally.Kept[i]);
            Moments(failures, $"[{i}]", law, cpu.Moments(i), torchTally.Moments(i));
        }
        Assert.True(failures.Count == 0, $"{fused.Name}, {Draws} draws each:\n{string.Join("\n", failures)}");
    }

    /// <summary>The exact law of every element: MVUE probabilities per block, then the int8 scale of the kept values.</summary>
    private static ElementLaw[] Laws(float[] x, (int N, int M)? pruning, bool quantized)
    {
        var keep = new double[x.Length];
        if (pruning is { } nm)
        {
            for (int start = 0; start < x.Length; start += nm.M)
            {
                var block = new float[nm.M]; // the last block zero-padded, as the codecs do
                x.AsSpan(start, Math.Min(nm.M, x.Length - start)).CopyTo(block);
                var p = MvuePrunerTests.InclusionProbabilities(block, nm.N);
                for (int j = 0; j < nm.M && start + j < x.Length; j++) keep[start + j] = p[j];
            }
        }
        else Array.Fill(keep, 1.0);
        // One scale: max |x / p| over the values that can be kept, which the dominant value fixes in every
        // 1024-value chunk (each chunk of the torch calls' copies holds at least one of it).
        double scale = quantized ? x.Select((v, i) => keep[i] > 0 ? Math.Abs(v / keep[i]) : 0).Max() / 127 : 0;
        return x.Select((v, i) => ElementLaw.For(v, keep[i], scale)).ToArray();
    }

    /// <summary>Two observed frequencies (successes out of trials) against each other and against <paramref name="p"/>.
    /// The variance is floored at one success in the trials, so a deterministic choice tolerates a handful of
    /// fp32 boundary cases but not a systematic miss.</summary>
    private static void Frequencies(List<string> failures, string what, double p, long hitsA, long trialsA, long hitsB, long trialsB)
    {
        if (trialsA == 0 || trialsB == 0)
        {
            if (trialsA != trialsB) failures.Add($"{what}: one implementation never had a trial ({trialsA} vs {trialsB})");
            return;
        }
        double fa = (double)hitsA / trialsA, fb = (double)hitsB / trialsB;
        double Variance(long trials) => Math.Max(p * (1 - p), 1.0 / trials) / trials;
        Check(failures, $"{what} fused vs p", fa, p, Math.Sqrt(Variance(trialsA)), 0);
        Check(failures, $"{what} torch vs p", fb, p, Math.Sqrt(Variance(trialsB)), 0);
        Check(failures, $"{what} fused vs torch", fa, fb, Math.Sqrt(Variance(trialsA) + Variance(trialsB)), 0);
    }

    /// <summary>Decoded mean and variance of both implementations against each other and the exact law.
    /// A sample mean's spread is sqrt(var / K), a sample variance's sqrt((mu4 - var^2 (K-3)/(K-1)) / K); both are
    /// floored at one step in K draws (see <see cref="Frequencies"/>), plus fp32 rounding of x / p.</summary>
    private static void Moments(List<string> failures, string what, ElementLaw law, (double Mean, double Var) a, (double Mean, double Var) b)
    {
        double step = law.Step, floor = step * step / Draws;
        double meanSd = Math.Sqrt(Math.Max(law.Variance, floor) / Draws);
        // Exact for K draws: Var(s^2) = (mu4 - var^2 (K-3)/(K-1)) / K; the (K-3)/(K-1) matters for a
        // symmetric two-point law (p = 1/2), where mu4 = var^2 and the leading term vanishes.
        double varSd = Math.Sqrt(Math.Max(law.Fourth - law.Variance * law.Variance * (Draws - 3.0) / (Draws - 1), floor * floor) / Draws);
        double meanSlack = 1e-5 * (Math.Abs(law.X) + step), varSlack = 1e-5 * (law.X * law.X + step * step);
        Check(failures, $"{what} mean fused vs x", a.Mean, law.Mean, meanSd, meanSlack);
        Check(failures, $"{what} mean torch vs x", b.Mean, law.Mean, meanSd, meanSlack);
        Check(failures, $"{what} mean fused vs torch", a.Mean, b.Mean, Math.Sqrt(2) * meanSd, meanSlack);
        Check(failures, $"{what} variance fused vs exact", a.Var, law.Variance, varSd, varSlack);
        Check(failures, $"{what} variance torch vs exact", b.Var, law.Variance, varSd, varSlack);
        Check(failures, $"{what} variance fused vs torch", a.Var, b.Var, Math.Sqrt(2) * varSd, varSlack);
    }

    private static void Check(List<string> failures, string what, double observed, double expected, double sd, double slack)
    {
        if (!(Math.Abs(observed - expected) <= Z * sd + slack))
            failures.Add($"{what}: {observed:G6} vs {expected:G6} (bound {Z * sd + slack:G3})");
    }

    /// <summary>Per-element counts over the draws of one implementation.</summary>
    private sealed class Tally(ElementLaw[] laws)
    {
        public readonly long[] Kept = new long[laws.Length];
        public readonly long[] Up = new long[laws.Length];
        private readonly double[] sum = new double[laws.Length];
        private readonly double[] squares = new double[laws.Length];
        private int draws;

        /// <summary>One draw: the input's elements sit at <paramref name="offset"/> in <paramref name="choices"/> and <paramref name="decoded"/>.</summary>
        public void Add(WireChoices choices, float[] decoded, int offset)
        {
            draws++;
            for (int i = 0; i < laws.Length; i++)
            {
                bool kept = choices.Kept[offset + i];
                if (kept) Kept[i]++;
                if (kept && choices.Level[offset + i] > laws[i].Floor) Up[i]++;
                double value = decoded[offset + i];
                sum[i] += value;
                squares[i] += value * value;
            }
        }

        public (double Mean, double Var) Moments(int i)
        {
            double mean = sum[i] / draws;
            return (mean, Math.Max(0, (squares[i] - draws * mean * mean) / (draws - 1)));
        }
    }
}
