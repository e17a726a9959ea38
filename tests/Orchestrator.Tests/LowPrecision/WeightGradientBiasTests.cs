using Orchestrator.Bench.Drivers;
using Orchestrator.Tests.Training;
using Orchestrator.Trainer.Data;
using TorchSharp;
using Xunit.Abstractions;

namespace Orchestrator.Tests.LowPrecision;

/// <summary>
/// <c>bench gradient-bias</c>'s measurement on a small CNN: one figure per conv and linear layer, the mean of many MVUE
/// draws' weight gradients close to the dense one (unbiased), greedy's not, and a single draw no closer than the mean.
/// </summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class WeightGradientBiasTests(ITestOutputHelper output)
{
    [Fact]
    public void Mvue_weight_gradients_average_to_the_dense_one_and_greedy_ones_stay_off()
    {
        torch.set_num_threads(1);
        var spec = TestSpecs.Synthetic(batch: 32, width: 4);
        spec = spec with { Data = spec.Data with { Augment = new(0, false, 0) } };
        var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);

        var figures = WeightGradientBias.Measure(spec, data, steps: 3, n: 1, m: 2, draws: 400);
        // Every tensor the measurement kept must have been disposed with its scope: a finalizer that meets a disposed
        // scope throws and ends the test host.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        foreach (var f in figures)
            output.WriteLine($"{f.Layer}: greedy |dW| ratio {f.GreedyNormRatio:F3}, cos {f.GreedyCosine:F4}; one MVUE draw {f.OneDrawCosine:F4}; mean {f.MeanCosine:F5}");

        Assert.Equal(["features.conv1", "features.conv2", "head.fc1", "head.classifier"], figures.Select(f => f.Layer));
        Assert.All(figures, f =>
        {
            // 400 draws: the mean's error is about a twentieth of one draw's, so its cosine sits far closer to 1.
            Assert.True(f.MeanCosine > 0.99, $"{f.Layer}: the mean of the MVUE draws is at cosine {f.MeanCosine:F4} with the dense weight gradient");
            Assert.True(f.OneDrawCosine <= f.MeanCosine + 1e-6, $"{f.Layer}: one draw ({f.OneDrawCosine:F4}) beat the mean of 400 ({f.MeanCosine:F4})");
            Assert.InRange(f.GreedyCosine, -1.0, 1.0 + 1e-9);
        });
        // Greedy drops the smaller value of every pair without rescaling: its weight gradient is shorter or turned.
        Assert.Contains(figures, f => f.GreedyCosine < f.MeanCosine - 0.01 || Math.Abs(f.GreedyNormRatio - 1) > 0.05);
    }
}
