using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// The real codecs inside the allreduce algorithms (W in-process ranks): every rank ends with the
/// same bits, and averaged over many seeds the result is the exact mean (the composition is unbiased).
/// </summary>
public sealed class CompressedAllreduceTests
{
    private static float Value(int rank, int i) => MathF.Sin(0.37f * i + rank) * (1 + (i % 5)) + (i % 11 == 0 ? 0 : 0.1f * rank);

    public static TheoryData<string, string, int> Cases => new()
    {
        { "ring", "int8", 3 },
        { "ring", "int8", 2 },
        { "allgather", "nm+int8", 2 },
        { "ring", "nm", 2 },
        { "allgather", "int8", 2 },
        { "ring", "nm+int8", 2 },
        { "ring", "nm+int8", 4 },
        { "allgather", "nm+int8", 3 },
        { "ring", "nm", 3 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compressed_allreduce_is_bit_identical_across_ranks_and_unbiased(string algorithm, string codecName, int ranks)
    {
        const int n = 2051, trials = 300;
        var codec = CodecRegistry.Create(CompressionSpec.Default with { Codec = Named.Codec(codecName), N = 2, M = 4 });
        var exact = Enumerable.Range(0, n).Select(i => Enumerable.Range(0, ranks).Average(r => (double)Value(r, i))).ToArray();
        var sum = new double[n];
        var sumSquares = new double[n];
        for (int trial = 0; trial < trials; trial++)
        {
            var results = InProcessWorld.Run(ranks, communicator =>
            {
                var bucket = Enumerable.Range(0, n).Select(i => Value(communicator.Rank, i)).ToArray();
                AllreduceAlgorithms.Create(Named.Algorithm(algorithm), communicator).Allreduce(bucket, codec, (ulong)trial * 7919 + 1, new AllreduceStats());
                return bucket;
            });
            foreach (var other in results) Assert.Equal(results[0], other);
            for (int i = 0; i < n; i++)
            {
                sum[i] += results[0][i];
                sumSquares[i] += (double)results[0][i] * results[0][i];
            }
        }
        // Per-element z-scores mislead here: pruning gives rare, large outcomes (a kept x/p with small p),
        // so few trials under-sample them. Two statistics that pool all elements instead:
        // (1) E||mean - exact||^2 = sum var_i / trials exactly when unbiased; any bias adds sum b_i^2.
        double squaredError = 0, expected = 0;
        for (int i = 0; i < n; i++)
        {
            double mean = sum[i] / trials;
            squaredError += (mean - exact[i]) * (mean - exact[i]);
            expected += Math.Max(0, sumSquares[i] / trials - mean * mean) / (trials - 1);
        }
        Assert.InRange(squaredError / expected, 0.7, 1.3);
        // (2) random +-1 projections of the mean error are within 5 standard errors of 0.
        var random = new Random(5);
        for (int projection = 0; projection < 8; projection++)
        {
            var signs = Enumerable.Range(0, n).Select(_ => random.Next(2) * 2 - 1).ToArray();
            double bias = Enumerable.Range(0, n).Sum(i => signs[i] * (sum[i] / trials - exact[i]));
            Assert.True(Math.Abs(bias) <= 5 * Math.Sqrt(expected) + 1e-4, $"projection {projection}: {bias} vs se {Math.Sqrt(expected)}");
        }
    }
}
