using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Error feedback without MPI: the residual each algorithm hands back is the error of exactly the encoding
/// it sent for this rank, the residual memory compensates the next gradient, and over many steps the
/// applied updates follow the true gradients even under the biased greedy pruner, which drifts without it.
/// </summary>
public sealed class ErrorFeedbackTests
{
    private static readonly IGradientCodec Greedy24 = CodecRegistry.Create(CompressionSpec.Default with { Codec = CodecKind.Nm, N = 2, M = 4, Pruner = PrunerKind.Greedy });

    /// <summary>Rank <paramref name="rank"/>'s gradient at <paramref name="step"/>: a fixed per-element mean in
    /// [-1, 1) plus noise of the same size, so the greedy pruner keeps dropping the small means.</summary>
    private static float Gradient(int rank, int step, int i) => Uniform(0, 0, i) + 0.5f * Uniform(rank + 1, step + 1, i);

    private static float Uniform(int a, int b, int i)
    {
        ulong z = (ulong)i * 0x9E3779B97F4A7C15UL + (ulong)a * 0xBF58476D1CE4E5B9UL + (ulong)b * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 31)) * 0x94D049BB133111EBUL;
        z ^= z >> 29;
        return (z >> 40) / (float)(1 << 23) - 1f;
    }

    private static float[] Values(int n, Func<int, float> value) => Enumerable.Range(0, n).Select(value).ToArray();

    private static bool BitEqual(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        a.Length == b.Length && System.Runtime.InteropServices.MemoryMarshal.AsBytes(a).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Allgather_residual_is_the_bucket_minus_the_decoding_of_the_encoding_it_sent(int ranks)
    {
        const int n = 1001;
        const ulong seed = 17;
        var codec = new StochasticBfloat16TestCodec();
        var results = InProcessWorld.Run(ranks, communicator =>
        {
            var bucket = Values(n, i => Gradient(communicator.Rank, 0, i));
            var residual = new float[n];
            new AllgatherAllreduce(communicator).Allreduce(bucket, codec, seed, new AllreduceStats(), residual);
            return (bucket, residual);
        });

        var expectedMean = new float[n];
        var encoded = new byte[codec.EncodedBytes(n)];
        var decoded = new float[n];
        for (int r = 0; r < ranks; r++)
        {
            var sent = Values(n, i => Gradient(r, 0, i));
            codec.Encode(sent, encoded, BucketMath.Seed(seed, r, 0));
            codec.Decode(encoded, decoded);
            var expectedResidual = sent.Zip(decoded, (g, d) => g - d).ToArray();
            Assert.True(BitEqual(expectedResidual, results[r].residual), $"rank {r}'s residual is not the error of its own encoding");
            Assert.Contains(expectedResidual, e => e != 0); // the lossy codec did lose something
            for (int i = 0; i < n; i++) expectedMean[i] += decoded[i];
        }
        for (int i = 0; i < n; i++) expectedMean[i] /= ranks;
        // The averaged result is what it is without feedback: the same encodings, summed in rank order.
        Assert.All(results, result => Assert.True(BitEqual(expectedMean, result.bucket)));
    }

    [Theory]
    [InlineData(2, 1000)]
    [InlineData(3, 1001)]
    [InlineData(4, 1003)]
    [InlineData(4, 3)]
    public void Ring_residuals_account_for_every_encoding_so_the_sums_telescope(int ranks, int n)
    {
        const ulong seed = 5;
        var codec = new StochasticBfloat16TestCodec();
        var results = InProcessWorld.Run(ranks, communicator =>
        {
            var bucket = Values(n, i => Gradient(communicator.Rank, 0, i));
            var residual = new float[n];
            new RingAllreduce(communicator).Allreduce(bucket, codec, seed, new AllreduceStats(), residual);
            return (bucket, residual);
        });

        foreach (var result in results) Assert.True(BitEqual(results[0].bucket, result.bucket), "ranks disagree");
        double worstLoss = 0;
        for (int i = 0; i < n; i++)
        {
            // Every encoding's error sits in some rank's residual: nothing the ring lost is unaccounted for.
            double sent = Enumerable.Range(0, ranks).Sum(r => (double)Gradient(r, 0, i) - results[r].residual[i]);
            double magnitude = Enumerable.Range(0, ranks).Sum(r => Math.Abs((double)Gradient(r, 0, i)) + Math.Abs(results[r].residual[i]));
            Assert.True(Math.Abs(ranks * (double)results[0].bucket[i] - sent) <= 4e-7 * ranks * magnitude,
                $"element {i}: W x result {ranks * results[0].bucket[i]}, buckets minus residuals {sent}");
            worstLoss = Math.Max(worstLoss, results.Max(r => Math.Abs(r.residual[i])));
        }
        if (n > ranks) Assert.True(worstLoss > 0, "the lossy codec lost nothing: the check above proves nothing");
    }

    [Fact]
    public void A_one_rank_ring_residual_is_the_error_of_its_single_encoding()
    {
        const int n = 500;
        var codec = new StochasticBfloat16TestCodec();
        using var self = new SelfCommunicator();
        var bucket = Values(n, i => Gradient(0, 0, i));
        var residual = new float[n];
        new RingAllreduce(self).Allreduce(bucket, codec, 8, new AllreduceStats(), residual);

        var encoded = new byte[codec.EncodedBytes(n)];
        var decoded = new float[n];
        codec.Encode(Values(n, i => Gradient(0, 0, i)), encoded, BucketMath.Seed(8, 0, 0));
        codec.Decode(encoded, decoded);
        Assert.True(BitEqual(decoded, bucket));
        Assert.True(BitEqual(Values(n, i => Gradient(0, 0, i) - decoded[i]), residual));
    }

    [Fact]
    public void Mpi_fp32_leaves_no_residual()
    {
        using var self = new SelfCommunicator();
        var residual = new float[] { 1, 2, 3 };
        new MpiAllreduce(self).Allreduce(new float[] { 4, 5, 6 }, new NoneCodec(), 0, new AllreduceStats(), residual);
        Assert.Equal([0f, 0f, 0f], residual);
    }

    [Fact]
    public void A_residual_of_the_wrong_length_is_refused()
    {
        using var self = new SelfCommunicator();
        foreach (var algorithm in Enum.GetValues<AllreduceKind>())
            Assert.Throws<ArgumentException>(() =>
                AllreduceAlgorithms.Create(algorithm, self).Allreduce(new float[8], new NoneCodec(), 0, new AllreduceStats(), new float[7]));
    }

    /// <summary>
    /// T steps of W in-process ranks averaging their gradients with <paramref name="algorithm"/> and the greedy
    /// 2:4 pruner. Returns the root mean square over elements of (sum of applied updates - sum of true mean
    /// gradients) after T/2 and T steps, and how far the final sum is from the true sum minus the mean residual.
    /// </summary>
    private static (double Half, double Full, double Identity) Drift(string algorithm, int ranks, bool feedback, int n = 2048, int steps = 200)
    {
        var results = InProcessWorld.Run(ranks, communicator =>
        {
            var allreduce = AllreduceAlgorithms.Create(Named.Algorithm(algorithm), communicator);
            var memory = new ErrorFeedback([n]);
            var applied = new double[n];
            var bucket = new float[n];
            double half = 0;
            for (int step = 0; step < steps; step++)
            {
                for (int i = 0; i < n; i++) bucket[i] = Gradient(communicator.Rank, step, i);
                var residual = feedback ? memory.Compensate(0, bucket) : default;
                allreduce.Allreduce(bucket, Greedy24, (ulong)step, new AllreduceStats(), residual);
                for (int i = 0; i < n; i++) applied[i] += bucket[i];
                if (step == steps / 2 - 1) half = Rms(n, i => applied[i] - TrueSum(ranks, steps / 2, i));
            }
            return (applied, residual: memory.Residual(0).ToArray(), half);
        });
        var (final, _, halfDrift) = results[0];
        double full = Rms(n, i => final[i] - TrueSum(ranks, steps, i));
        double identity = Rms(n, i => final[i] - (TrueSum(ranks, steps, i) - results.Average(r => (double)r.residual[i])));
        return (halfDrift, full, identity);
    }

    private static double TrueSum(int ranks, int steps, int i)
    {
        double sum = 0;
        for (int step = 0; step < steps; step++)
            for (int r = 0; r < ranks; r++) sum += Gradient(r, step, i);
        return sum / ranks;
    }

    private static double Rms(int n, Func<int, double> value) => Math.Sqrt(Enumerable.Range(0, n).Average(i => value(i) * value(i)));

    [Theory]
    [InlineData("allgather", 2)]
    [InlineData("ring", 2)]
    [InlineData("ring", 4)]
    public void With_feedback_the_applied_updates_track_the_true_gradients_under_the_biased_greedy_pruner(string algorithm, int ranks)
    {
        var without = Drift(algorithm, ranks, feedback: false);
        var with = Drift(algorithm, ranks, feedback: true);

        // Without feedback greedy pruning keeps dropping the same small values: the gap grows with every step.
        Assert.True(without.Full > 1.8 * without.Half, $"without feedback the drift went {without.Half:F3} -> {without.Full:F3}");
        // With it the gap is just the residuals still held back: bounded (a gradient is about 0.6 RMS here) and not growing.
        Assert.True(with.Full < 1.5, $"with feedback the drift reached {with.Full:F3}");
        Assert.True(with.Full < 1.3 * with.Half + 0.1, $"with feedback the drift went {with.Half:F3} -> {with.Full:F3}");
        Assert.True(with.Full < without.Full / 10, $"feedback {with.Full:F3} vs none {without.Full:F3}");
        // And exactly so: sum of applied updates = sum of true mean gradients - mean of the final residuals.
        Assert.True(with.Identity < 1e-3, $"applied - (true - residual): {with.Identity:g3} RMS");
    }

    [Fact]
    public void Compensate_adds_the_residual_and_hands_back_its_memory()
    {
        var memory = new ErrorFeedback([3, 0]);
        var values = new float[] { 1, 2, 3 };
        var residual = memory.Compensate(0, values);
        residual[1] = 0.5f; // what an allreduce leaves behind
        Assert.Equal(0.5f, memory.Residual(0)[1]);

        var next = new float[] { 1, 1, 1 };
        memory.Compensate(0, next);
        Assert.Equal([1f, 1.5f, 1f], next);
        Assert.True(memory.Compensate(1, Span<float>.Empty).IsEmpty); // a bucket that is never compressed has no memory
        Assert.Throws<ArgumentException>(() => memory.Compensate(0, new float[2]));
    }

    private static ErrorFeedback[] Filled(int ranks, params int[] buckets) => Enumerable.Range(0, ranks).Select(rank =>
    {
        var memory = new ErrorFeedback(buckets);
        for (int b = 0; b < buckets.Length; b++)
        {
            var residual = memory.Compensate(b, new float[buckets[b]]);
            for (int i = 0; i < residual.Length; i++) residual[i] = rank * 1000 + b * 100 + i + 0.25f;
        }
        return memory;
    }).ToArray();

    private static byte[] State(ErrorFeedback[] ranks)
    {
        var state = new byte[ranks[0].StateBytes(ranks.Length)];
        ranks[0].WriteHeader(state, ranks.Length);
        for (int r = 0; r < ranks.Length; r++) ranks[r].WritePart(ranks[0].PartOf(state, r));
        return state;
    }

    [Fact]
    public void Every_rank_restores_its_own_residuals_from_the_gathered_state()
    {
        var saved = Filled(3, 5, 0, 7);
        var state = State(saved);

        for (int rank = 0; rank < 3; rank++)
        {
            var restored = new ErrorFeedback([5, 0, 7]);
            Assert.Null(restored.Restore(state, rank, 3));
            for (int b = 0; b < 3; b++) Assert.Equal(saved[rank].Residual(b).ToArray(), restored.Residual(b).ToArray());
        }
    }

    [Theory]
    [InlineData("empty", "holds no error-feedback residuals")]
    [InlineData("garbage", "not in a known format")]
    [InlineData("workers", "for 3 workers, this job has 2")]
    [InlineData("layout", "another bucket layout")]
    public void A_state_that_does_not_fit_restarts_from_zero_and_says_why(string mismatch, string reason)
    {
        var state = State(Filled(3, 5, 7));
        var memory = Filled(1, 5, 7)[0];
        int ranks = 3;
        int[] layout = [5, 7];
        switch (mismatch)
        {
            case "empty": state = []; break;
            case "garbage": state = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; break;
            case "workers": ranks = 2; break;
            default: layout = [5, 6]; break;
        }
        if (mismatch == "layout") memory = new ErrorFeedback(layout);
        memory.Compensate(0, new float[5])[0] = 9; // something to forget

        Assert.Contains(reason, memory.Restore(state, 0, ranks));
        Assert.All(Enumerable.Range(0, memory.Buckets), b => Assert.All(memory.Residual(b).ToArray(), v => Assert.Equal(0f, v)));
    }
}
