using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Collectives;

public sealed class GradientBucketsTests
{
    private static nn.Module<Tensor, Tensor> Model() =>
        ModelRegistry.Create(new ModelSpec(ModelKind.Cnn, 4, NormKind.Batch), new ModelInput(1, 12, 12, 10));

    [Fact]
    public void Backward_writes_into_the_flat_buckets_and_zero_grad_clears_them_in_place()
    {
        using var model = Model();
        using var buckets = GradientBuckets.Attach(model.named_parameters(), bucketMb: 25, minCompressElements: 100);
        using var optimizer = OptimizerFactory.Create(new OptimizerSpec(OptimizerKind.Sgd, 0.1, 0.9, false, 0), model.parameters());
        Assert.Equal(model.parameters().Sum(p => p.numel()), buckets.Elements);

        var loss = nn.functional.cross_entropy(model.forward(randn(8, 1, 12, 12)), randint(0, 10, [8]));
        loss.backward();
        foreach (var (name, p) in model.named_parameters())
        {
            var bucket = buckets.Buckets.Single(b => b.ParameterNames.Contains(name));
            int offset = 0;
            foreach (var other in bucket.ParameterNames.TakeWhile(n => n != name))
                offset += (int)model.named_parameters().Single(q => q.name == other).parameter.numel();
            Assert.True(bucket.Flat.narrow(0, offset, p.numel()).equal(p.grad!.flatten()).all().item<bool>(), name);
        }
        Assert.True(buckets.Buckets.Sum(b => b.Flat.abs().sum().item<float>()) > 0);

        optimizer.zero_grad();
        Assert.All(buckets.Buckets, b => Assert.Equal(0, b.Flat.abs().sum().item<float>()));
        nn.functional.cross_entropy(model.forward(randn(8, 1, 12, 12)), randint(0, 10, [8])).backward();
        Assert.True(buckets.Buckets.Sum(b => b.Flat.abs().sum().item<float>()) > 0, "the second backward still lands in the buckets");
    }

    [Fact]
    public void Small_tensors_travel_uncompressed_and_buckets_respect_the_size_cap()
    {
        using var model = Model();
        var parameters = model.named_parameters().ToList();
        const double capMb = 2000 * 4 / (1024.0 * 1024.0); // 2000 floats
        using var buckets = GradientBuckets.Attach(parameters, capMb, minCompressElements: 100);
        var small = parameters.Where(p => p.parameter.numel() < 100).Select(p => p.name).ToHashSet();
        foreach (var bucket in buckets.Buckets)
        {
            Assert.Equal(!bucket.Compressed, bucket.ParameterNames.All(small.Contains));
            Assert.True(bucket.Elements <= 2000 || bucket.ParameterNames.Count == 1, "only a single tensor larger than the cap may exceed it");
        }
        Assert.Contains(buckets.Buckets, b => !b.Compressed);
        Assert.True(buckets.Buckets.Count(b => b.Compressed) > 1);
    }

    [Fact]
    public void Non_finite_gradients_are_detected()
    {
        using var model = Model();
        using var buckets = GradientBuckets.Attach(model.named_parameters(), 25, 100);
        Assert.True(buckets.AllFinite());
        buckets.Buckets[^1].Flat[3] = float.NaN;
        Assert.False(buckets.AllFinite());
        buckets.Buckets[^1].Flat[3] = float.PositiveInfinity;
        Assert.False(buckets.AllFinite());
    }
}
