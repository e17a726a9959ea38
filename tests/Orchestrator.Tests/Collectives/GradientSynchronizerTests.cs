using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Which allreduce <see cref="MpiGradientSynchronizer"/> really runs for each bucket, on in-process ranks
/// whose communicator counts the collectives: a linear layer's weight (384 values) fills a compressed
/// bucket and its bias (16) the fp32 bucket of small tensors.
/// </summary>
public sealed class GradientSynchronizerTests
{
    private const int MinCompress = 256;

    /// <summary>Rank <paramref name="rank"/>'s gradient value <paramref name="i"/>: multiples of 2^-10, so sums are
    /// exact in any order and the mean is one correctly rounded division whatever the algorithm.</summary>
    private static float Value(int rank, int i) => ((i * 7919 + rank * 104729) % 2001 - 1000) / 1024f;

    private sealed record StepCalls(int AllreduceSum, int SendReceive, int Allgather);

    /// <summary>Each rank synchronizes steps 0..<paramref name="steps"/>-1 (gradients refilled each time) and returns
    /// its averaged gradients, the collectives of each step and the algorithm the synchronizer reports.</summary>
    private static (float[] Gradients, StepCalls[] Calls, string Algorithm, SynchronizerStats Stats)[] Run(int ranks, CompressionSpec spec, int steps,
        CodecImplementation? implementation = null) =>
        InProcessWorld.Run(ranks, communicator =>
        {
            var counting = new CountingCommunicator(communicator);
            using var model = nn.Linear(24, 16);
            using var synchronizer = new MpiGradientSynchronizer(counting, spec with { MinCompressElements = MinCompress }, seed: 5, implementation);
            synchronizer.Attach(model);
            var calls = new StepCalls[steps];
            for (int step = 0; step < steps; step++)
            {
                Fill(model, counting.Rank);
                var before = Snapshot(counting);
                Assert.True(synchronizer.Synchronize(step));
                var after = Snapshot(counting);
                calls[step] = new StepCalls(after.AllreduceSum - before.AllreduceSum, after.SendReceive - before.SendReceive, after.Allgather - before.Allgather);
            }
            return (Gradients(model), calls, synchronizer.Algorithm, synchronizer.Stats);
        });

    private static StepCalls Snapshot(CountingCommunicator c) =>
        new(c.Calls(nameof(ICommunicator.AllreduceSum)), c.Calls(nameof(ICommunicator.SendReceive)), c.Calls(nameof(ICommunicator.Allgather)));

    private static void Fill(nn.Module model, int rank)
    {
        using var noGrad = no_grad();
        int offset = 0;
        foreach (var parameter in model.parameters())
        {
            int count = (int)parameter.numel();
            var values = Enumerable.Range(offset, count).Select(i => Value(rank, i)).ToArray();
            parameter.grad!.copy_(tensor(values).view(parameter.shape));
            offset += count;
        }
    }

    private static float[] Gradients(nn.Module model) =>
        model.parameters().SelectMany(p => p.grad!.contiguous().data<float>().ToArray()).ToArray();

    private static float[] ExactMean(int ranks, int count) =>
        Enumerable.Range(0, count).Select(i => Enumerable.Range(0, ranks).Sum(r => Value(r, i)) / ranks).ToArray();

    [Theory]
    [InlineData("ring")]
    [InlineData("allgather")]
    [InlineData("mpi")]
    public void Codec_none_averages_every_bucket_with_the_algorithm_the_spec_names(string algorithm)
    {
        const int ranks = 3;
        var results = Run(ranks, CompressionSpec.Default with { Codec = CodecKind.None, Algorithm = Named.Algorithm(algorithm) }, steps: 1);

        var expected = ExactMean(ranks, 24 * 16 + 16);
        foreach (var (gradients, calls, reported, _) in results)
        {
            Assert.Equal(expected, gradients);
            Assert.Equal(algorithm, reported);
            // Both buckets (the compressed-size one and the small one) go through the named algorithm: MPI's
            // float allreduce, or ring hops (point-to-point), or allgathers alone. Counts other than mpi's are
            // left loose: how the ring finishes (an allgather or more hops) is the ring's business.
            var step = calls[0];
            Assert.Equal(algorithm == "mpi" ? 2 : 0, step.AllreduceSum);
            Assert.Equal(algorithm == "ring", step.SendReceive > 0);
            if (algorithm != "ring") Assert.Equal(algorithm == "allgather" ? 2 : 0, step.Allgather);
        }
    }

    [Theory]
    [InlineData("int8", "ring")]
    [InlineData("nm+int8", "ring")]
    [InlineData("int8", "allgather")]
    public void A_step_whose_average_overflows_inside_the_allreduce_is_skipped_on_every_rank_and_training_goes_on(string codec, string algorithm)
    {
        var spec = CompressionSpec.Default with { Codec = Named.Codec(codec), Algorithm = Named.Algorithm(algorithm), WarmupSteps = 0, ErrorFeedback = true };
        var results = InProcessWorld.Run(2, communicator =>
        {
            using var model = nn.Linear(24, 16);
            using var synchronizer = new MpiGradientSynchronizer(communicator, spec with { MinCompressElements = MinCompress }, seed: 5);
            synchronizer.Attach(model);
            var applied = new List<bool>();
            for (int step = 0; step < 3; step++)
            {
                Fill(model, communicator.Rank);
                if (step == 1)
                    using (no_grad())
                        model.parameters().First().grad!.view(-1)[3] = 3e38f; // finite on each rank; the sum of the two is not
                applied.Add(synchronizer.Synchronize(step));
            }
            return (applied, Finite: model.parameters().All(p => isfinite(p.grad!).all().item<bool>()), synchronizer.Stats.SkippedSteps);
        });

        foreach (var (applied, finite, skipped) in results)
        {
            Assert.Equal([true, false, true], applied);
            Assert.True(finite, "the step after the skipped one averaged finite gradients (residuals were reset)");
            Assert.Equal(1, skipped);
        }
    }

    [Fact]
    public void A_compressing_codec_sends_warm_up_steps_and_small_tensors_through_MPI_Allreduce()
    {
        const int ranks = 2;
        var results = Run(ranks, CompressionSpec.Default with { Codec = CodecKind.Int8, Algorithm = AllreduceKind.Ring, WarmupSteps = 1 }, steps: 2);

        foreach (var (_, calls, reported, _) in results)
        {
            Assert.Equal("ring", reported);
            // Warm-up: both buckets as fp32 through MPI_Allreduce.
            Assert.Equal(new StepCalls(AllreduceSum: 2, SendReceive: 0, Allgather: 0), calls[0]);
            // Then the weight's bucket goes compressed around the ring; the bias stays fp32.
            Assert.Equal(1, calls[1].AllreduceSum);
            Assert.True(calls[1].SendReceive > 0);
        }
        Assert.Equal(results[0].Gradients, results[1].Gradients);
    }

    [Theory]
    [InlineData("int8", "ring")]
    [InlineData("nm+int8", "allgather")]
    [InlineData("nm", "ring")]
    public void Forced_torch_ops_keep_ranks_bit_identical_with_the_fused_wire_size(string codec, string algorithm)
    {
        const int ranks = 3;
        var spec = CompressionSpec.Default with { Codec = Named.Codec(codec), Algorithm = Named.Algorithm(algorithm) };
        var torchOps = Run(ranks, spec, steps: 2, CodecImplementation.TorchOps);
        var fused = Run(ranks, spec, steps: 2, CodecImplementation.Fused);

        for (int r = 1; r < ranks; r++) Assert.Equal(torchOps[0].Gradients, torchOps[r].Gradients);
        // Different generators, different draws: the averages differ, but every byte count is the fused one's.
        Assert.NotEqual(fused[0].Gradients, torchOps[0].Gradients);
        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(fused[r].Stats.EncodedBytes, torchOps[r].Stats.EncodedBytes);
            Assert.Equal(fused[r].Stats.BytesSent, torchOps[r].Stats.BytesSent);
            Assert.Equal(fused[r].Stats.BytesReceived, torchOps[r].Stats.BytesReceived);
            Assert.True(torchOps[r].Stats.CompressionRatio > 1.5, $"ratio {torchOps[r].Stats.CompressionRatio}");
        }
    }
}
