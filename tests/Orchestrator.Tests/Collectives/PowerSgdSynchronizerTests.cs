using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// PowerSGD's collective half on in-process ranks: <see cref="PowerSgdAllreduce"/> averages exactly what it can represent,
/// and <see cref="MpiGradientSynchronizer"/> with codec powersgd keeps ranks bit-identical, sends two sums per compressed
/// bucket, counts the factors' bytes, and carries residuals and warm start through its checkpoint state.
/// </summary>
public sealed class PowerSgdSynchronizerTests
{
    private static float[] Gaussian(Random rng, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()))).ToArray();

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Ranks_whose_gradients_share_an_r_dimensional_column_space_get_their_exact_mean(int ranks)
    {
        const int n = 32, m = 20, r = 2;
        // Rank i's M_i = A B_i^T: the mean A (mean B)^T has rank r, which PowerSGD represents exactly.
        var a = Gaussian(new Random(1), n * r);
        float[] Matrix(int rank)
        {
            var b = Gaussian(new Random(100 + rank), m * r);
            var result = new float[n * m];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++)
                    result[i * m + j] = a[i * r] * b[j * r] + a[i * r + 1] * b[j * r + 1];
            return result;
        }
        var mean = new double[n * m];
        for (int rank = 0; rank < ranks; rank++)
        {
            var x = Matrix(rank);
            for (int i = 0; i < mean.Length; i++) mean[i] += x[i] / (double)ranks;
        }

        var results = InProcessWorld.Run(ranks, communicator =>
        {
            var lowRank = new PowerSgdAllreduce(communicator, [new[] { new long[] { n, m } }], r, seed: 3);
            var values = Matrix(communicator.Rank);
            var stats = new AllreduceStats();
            lowRank.Allreduce(0, values, default, step: 0, stats);
            return (values, stats.Calls, stats.BytesSent);
        });

        double tolerance = 1e-5 * mean.Max(Math.Abs);
        foreach (var (values, calls, sent) in results)
        {
            Assert.Equal(results[0].values, values); // bit-identical on every rank
            for (int i = 0; i < mean.Length; i++) Assert.True(Math.Abs(values[i] - mean[i]) <= tolerance, $"entry {i}: {values[i]} vs {mean[i]}");
            Assert.Equal(2, calls); // one sum of the P's, one of the Q's
            Assert.Equal(2L * (ranks - 1) * (n + m) * r * sizeof(float) / ranks, sent);
        }
    }

    private static CompressionSpec Spec(bool errorFeedback = true, bool overlap = false) =>
        CompressionSpec.Default with
        {
            Codec = CodecKind.PowerSgd, Algorithm = AllreduceKind.Mpi, Rank = 2, ErrorFeedback = errorFeedback,
            MinCompressElements = 256, Overlap = overlap,
        };

    private static void Fill(nn.Module model, int rank, int step)
    {
        using var noGrad = no_grad();
        var rng = new Random(1000 * step + rank);
        foreach (var parameter in model.parameters())
            parameter.grad!.copy_(tensor(Gaussian(rng, (int)parameter.numel())).view(parameter.shape));
    }

    private static float[] Gradients(nn.Module model) =>
        model.parameters().SelectMany(p => p.grad!.contiguous().data<float>().ToArray()).ToArray();

    [Fact]
    public void The_synchronizer_keeps_ranks_bit_identical_sends_two_sums_per_bucket_and_counts_factor_bytes()
    {
        const int ranks = 2;
        var results = InProcessWorld.Run(ranks, communicator =>
        {
            var counting = new CountingCommunicator(communicator);
            using var model = nn.Linear(24, 16); // weight 16 x 24 (384 values: compressed), bias 16 (fp32 bucket)
            using var synchronizer = new MpiGradientSynchronizer(counting, Spec(), seed: 5);
            synchronizer.Attach(model);
            var perStep = new List<float[]>();
            int before = counting.Calls(nameof(ICommunicator.AllreduceSum));
            for (int step = 0; step < 3; step++)
            {
                Fill(model, counting.Rank, step);
                Assert.True(synchronizer.Synchronize(step));
                perStep.Add(Gradients(model));
            }
            int sums = counting.Calls(nameof(ICommunicator.AllreduceSum)) - before;
            return (perStep, sums, synchronizer.Stats);
        });

        foreach (var (perStep, sums, stats) in results)
        {
            for (int step = 0; step < 3; step++) Assert.Equal(results[0].perStep[step], perStep[step]);
            Assert.Equal(3 * (2 + 1), sums); // per step: P and Q of the weight's bucket, the bias bucket as fp32
            Assert.Equal(3 * 4L * (384 + 16), stats.UncompressedBytes);
            Assert.Equal(3 * 4L * ((16 + 24) * 2 + 16), stats.EncodedBytes);
            Assert.True(stats.BytesSent > 0 && stats.CompressionSeconds > 0);
        }
        // The weight's averaged gradient is P Q^T: a 16 x 24 matrix of rank 2 at most.
        using var weight = tensor(results[0].perStep[2].Take(384).ToArray()).view(16, 24);
        using var singular = linalg.svdvals(weight);
        var s = singular.data<float>().ToArray();
        Assert.True(s[2] < 1e-5 * s[0], $"third singular value {s[2]} of {s[0]}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Restored_state_continues_bit_exactly(bool errorFeedback)
    {
        const int ranks = 2;
        var results = InProcessWorld.Run(ranks, communicator =>
        {
            using var model = nn.Linear(24, 16);
            using var synchronizer = new MpiGradientSynchronizer(communicator, Spec(errorFeedback), seed: 5);
            synchronizer.Attach(model);
            for (int step = 0; step < 3; step++)
            {
                Fill(model, communicator.Rank, step);
                Assert.True(synchronizer.Synchronize(step));
            }
            var state = synchronizer.CollectState();
            // Every rank reads rank 0's checkpoint.
            var shared = new byte[1 << 16];
            int length = state.Length;
            Span<long> size = [length];
            communicator.Allreduce(size, ReduceOp.Max);
            if (communicator.Rank == 0) state.CopyTo(shared, 0);
            communicator.Broadcast(shared.AsSpan(0, (int)size[0]), root: 0);
            var checkpoint = shared.AsSpan(0, (int)size[0]).ToArray();

            Fill(model, communicator.Rank, 3);
            Assert.True(synchronizer.Synchronize(3));
            var continued = Gradients(model);

            using var fresh = nn.Linear(24, 16);
            using var resumed = new MpiGradientSynchronizer(communicator, Spec(errorFeedback), seed: 5);
            resumed.Attach(fresh);
            var reason = resumed.RestoreState(checkpoint);
            Fill(fresh, communicator.Rank, 3);
            Assert.True(resumed.Synchronize(3));

            using var cold = nn.Linear(24, 16);
            using var restarted = new MpiGradientSynchronizer(communicator, Spec(errorFeedback), seed: 5);
            restarted.Attach(cold);
            var coldReason = restarted.RestoreState([]);
            Fill(cold, communicator.Rank, 3);
            Assert.True(restarted.Synchronize(3));
            return (continued, Resumed: Gradients(fresh), reason, Cold: Gradients(cold), coldReason);
        });

        foreach (var (continued, resumed, reason, cold, coldReason) in results)
        {
            Assert.Null(reason);
            Assert.Equal(continued, resumed);
            Assert.NotEqual(continued, cold); // the state mattered
            Assert.Contains("PowerSGD restarts from its first random factors", coldReason);
            if (errorFeedback) Assert.Contains("error feedback restarts from zero residuals", coldReason);
        }
    }
}
