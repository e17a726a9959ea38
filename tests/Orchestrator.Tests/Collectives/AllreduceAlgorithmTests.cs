using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Collectives;

/// <summary>The allreduce algorithms on W in-process ranks (no MPI): averages, bit-identity, chunk bookkeeping, traffic.</summary>
public sealed class AllreduceAlgorithmTests
{
    private static readonly int[] Sizes = [0, 1, 2, 3, 4, 5, 7, 64, 1000, 1027];

    public static TheoryData<string, int, int> AllCases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var algorithm in new[] { "ring", "allgather", "mpi" })
            for (int ranks = 1; ranks <= 5; ranks++)
                foreach (int n in Sizes) data.Add(algorithm, ranks, n);
        return data;
    }

    public static TheoryData<string, int, int> LossyCases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var algorithm in new[] { "ring", "allgather" })
            for (int ranks = 1; ranks <= 5; ranks++)
                foreach (int n in Sizes) data.Add(algorithm, ranks, n);
        return data;
    }

    /// <summary>Multiples of 1/1024 below 1: sums of a few are exact in fp32 whatever the order.</summary>
    private static float Exact(int rank, int i) => ((i * 7919L + rank * 104729L) % 2001 - 1000) / 1024f;

    /// <summary>Values with full mantissas (sums depend on order).</summary>
    private static float Rough(int rank, int i) => MathF.Sin(i * 0.37f + rank * 1.91f) * (1 + rank);

    private static float[] Bucket(int rank, int n, Func<int, int, float> value) =>
        Enumerable.Range(0, n).Select(i => value(rank, i)).ToArray();

    private static float[][] RunAll(string algorithm, int ranks, int n, IGradientCodec codec, Func<int, int, float> value, ulong seed = 42) =>
        InProcessWorld.Run(ranks, communicator =>
        {
            var bucket = Bucket(communicator.Rank, n, value);
            AllreduceAlgorithms.Create(Named.Algorithm(algorithm), communicator).Allreduce(bucket, codec, seed, new AllreduceStats());
            return bucket;
        });

    private static void AssertBitIdentical(float[][] results)
    {
        for (int r = 1; r < results.Length; r++)
            Assert.True(results[0].AsSpan().SequenceEqual(results[r]) || BitEqual(results[0], results[r]),
                $"rank {r} differs from rank 0");
    }

    private static bool BitEqual(float[] a, float[] b) =>
        a.Length == b.Length && a.Zip(b).All(p => BitConverter.SingleToInt32Bits(p.First) == BitConverter.SingleToInt32Bits(p.Second));

    [Theory]
    [MemberData(nameof(AllCases))]
    public void The_fp32_codec_gives_the_exact_mean_on_every_rank(string algorithm, int ranks, int n)
    {
        var results = RunAll(algorithm, ranks, n, new NoneCodec(), Exact);

        for (int i = 0; i < n; i++)
        {
            float sum = 0;
            for (int r = 0; r < ranks; r++) sum += Exact(r, i);
            float mean = sum / ranks;
            foreach (var result in results) Assert.Equal(mean, result[i]);
        }
        foreach (var result in results) Assert.True(BitEqual(results[0], result));
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Order_dependent_sums_stay_bit_identical_across_ranks(string algorithm, int ranks, int n)
    {
        var results = RunAll(algorithm, ranks, n, new NoneCodec(), Rough);

        foreach (var result in results) Assert.True(BitEqual(results[0], result), "ranks disagree");
        for (int i = 0; i < n; i++)
        {
            double mean = Enumerable.Range(0, ranks).Sum(r => (double)Rough(r, i)) / ranks;
            Assert.True(Math.Abs(results[0][i] - mean) <= 1e-6 * ranks, $"element {i}: {results[0][i]} vs {mean}");
        }
    }

    [Theory]
    [MemberData(nameof(LossyCases))]
    public void A_lossy_codec_leaves_every_rank_with_the_same_bits(string algorithm, int ranks, int n)
    {
        var results = RunAll(algorithm, ranks, n, new StochasticBfloat16TestCodec(), Rough);

        foreach (var result in results) Assert.True(BitEqual(results[0], result), "ranks disagree");
        for (int i = 0; i < n; i++)
        {
            double mean = Enumerable.Range(0, ranks).Sum(r => (double)Rough(r, i)) / ranks;
            // Each of at most W roundings is off by < 2^-7 of a partial sum bounded by 1 + 2 + ... + W.
            double bound = ranks * (ranks * (ranks + 1) / 2.0) * Math.Pow(2, -7) / ranks;
            Assert.True(Math.Abs(results[0][i] - mean) <= bound, $"element {i}: {results[0][i]} vs {mean}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Allgather_sums_each_ranks_decoded_encoding_in_rank_order(int ranks)
    {
        const int n = 777;
        const ulong seed = 9;
        var codec = new StochasticBfloat16TestCodec();
        var results = RunAll("allgather", ranks, n, codec, Rough, seed);

        var expected = new float[n];
        var decoded = new float[n];
        var encoded = new byte[codec.EncodedBytes(n)];
        for (int r = 0; r < ranks; r++)
        {
            codec.Encode(Bucket(r, n, Rough), encoded, BucketMath.Seed(seed, r, 0));
            codec.Decode(encoded, decoded);
            for (int i = 0; i < n; i++) expected[i] += decoded[i];
        }
        for (int i = 0; i < n; i++) expected[i] /= ranks;
        Assert.True(BitEqual(expected, results[0]));
    }

    [Fact]
    public void The_ring_owner_applies_its_decoded_encoding_not_its_fp32_sum()
    {
        // One rank: the ring reduces to encode + decode of the owner's chunk, never the raw values.
        var codec = new StochasticBfloat16TestCodec();
        var results = RunAll("ring", 1, 100, codec, Rough, seed: 3);
        var encoded = new byte[codec.EncodedBytes(100)];
        var expected = new float[100];
        codec.Encode(Bucket(0, 100, Rough), encoded, BucketMath.Seed(3, 0, 0));
        codec.Decode(encoded, expected);
        Assert.True(BitEqual(expected, results[0]));
        Assert.False(BitEqual(Bucket(0, 100, Rough), results[0]));
    }

    [Theory]
    [InlineData(2, 1000)]
    [InlineData(4, 1000)]
    [InlineData(5, 1000)]
    [InlineData(3, 1001)]
    [InlineData(4, 2)]
    public void Ring_traffic_is_two_buckets_times_W_minus_1_over_W(int ranks, int n)
    {
        var stats = InProcessWorld.Run(ranks, communicator =>
        {
            var s = new AllreduceStats();
            new RingAllreduce(communicator).Allreduce(Bucket(communicator.Rank, n, Exact), new NoneCodec(), 1, s);
            return s;
        });
        Assert.Equal(stats.Sum(s => s.BytesSent), stats.Sum(s => s.BytesReceived));
        // Every rank receives every chunk but its own twice over (reduce-scatter, allgather): 2 (W-1)/W of the bucket.
        Assert.Equal(2L * (ranks - 1) * n * sizeof(float), stats.Sum(s => s.BytesReceived));
        Assert.All(stats, s => Assert.Equal(1, s.Calls));
        Assert.All(stats, s => Assert.True(s.CommunicationSeconds > 0 && s.CodecSeconds >= 0));
    }

    [Fact]
    public void Allgather_traffic_is_W_minus_1_encodings()
    {
        var stats = InProcessWorld.Run(3, communicator =>
        {
            var s = new AllreduceStats();
            new AllgatherAllreduce(communicator).Allreduce(Bucket(communicator.Rank, 100, Exact), new StochasticBfloat16TestCodec(), 1, s);
            return s;
        });
        Assert.All(stats, s => Assert.Equal(2L * 200, s.BytesSent));
        Assert.All(stats, s => Assert.Equal(2L * 200, s.BytesReceived));
    }

    [Fact]
    public void One_instance_handles_buckets_of_changing_sizes()
    {
        var results = InProcessWorld.Run(3, communicator =>
        {
            var ring = new RingAllreduce(communicator);
            var stats = new AllreduceStats();
            var outputs = new List<float[]>();
            foreach (int n in new[] { 1000, 2, 0, 513 })
            {
                var bucket = Bucket(communicator.Rank, n, Exact);
                ring.Allreduce(bucket, new NoneCodec(), (ulong)n, stats);
                outputs.Add(bucket);
            }
            Assert.Equal(4, stats.Calls);
            return outputs;
        });
        for (int k = 0; k < 4; k++)
            for (int r = 1; r < 3; r++) Assert.True(BitEqual(results[0][k], results[r][k]));
        Assert.Equal((Exact(0, 1) + Exact(1, 1) + Exact(2, 1)) / 3, results[2][1][1]);
    }

    [Fact]
    public void Mpi_refuses_a_compressing_codec()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            new MpiAllreduce(new SelfCommunicator()).Allreduce(new float[4], new StochasticBfloat16TestCodec(), 0, new AllreduceStats()));
        Assert.Contains("needs codec none", error.Message);
    }

    [Fact]
    public void The_registry_knows_ring_allgather_and_mpi()
    {
        using var self = new SelfCommunicator();
        Assert.Equal(["ring", "allgather", "mpi"], SpecChoice.Names<AllreduceKind>(SpecNames.SpecName));
        foreach (var kind in Enum.GetValues<AllreduceKind>()) Assert.Equal(kind, AllreduceAlgorithms.Create(kind, self).Kind);
    }

    [Theory]
    [InlineData(10, 3)]
    [InlineData(2, 5)]
    [InlineData(0, 4)]
    [InlineData(1027, 4)]
    public void Chunks_tile_the_bucket_in_order(int total, int chunks)
    {
        int next = 0;
        for (int c = 0; c < chunks; c++)
        {
            var (start, length) = BucketMath.Chunk(total, chunks, c);
            Assert.Equal(next, start);
            Assert.InRange(length, total / chunks, total / chunks + 1);
            next += length;
        }
        Assert.Equal(total, next);
    }
}
