using Orchestrator.Spec;
using Orchestrator.Tests.Collectives;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Models;

/// <summary>
/// The fixed classifier's point (ALGORITHMS.md section 6): its weight costs neither optimizer state nor
/// gradient traffic, nor buffer traffic at evaluation and checkpoint time.
/// </summary>
public sealed class FixedClassifierTrafficTests
{
    private const long Hidden = 8 * 4, Classes = 10;

    private static nn.Module<Tensor, Tensor> Mlp(string classifier) =>
        ModelRegistry.Create(new ModelSpec(ModelKind.Mlp, 4, NormKind.Batch, Named.Classifier(classifier)), new ModelInput(1, 6, 6, (int)Classes));

    [Fact]
    public void Gradient_buckets_hold_exactly_the_trainable_parameters_and_not_the_fixed_weight()
    {
        using var scope = NewDisposeScope();
        using var hadamard = Mlp("hadamard");
        using var linear = Mlp("linear");
        using var fixedBuckets = GradientBuckets.Attach(hadamard.named_parameters(), bucketMb: 25, minCompressElements: 100);
        using var linearBuckets = GradientBuckets.Attach(linear.named_parameters(), bucketMb: 25, minCompressElements: 100);

        Assert.Equal(hadamard.parameters().Sum(p => p.numel()), fixedBuckets.Elements);
        // The linear head's W [classes, hidden] is replaced by one learned scale alpha.
        Assert.Equal(linearBuckets.Elements - Classes * Hidden + 1, fixedBuckets.Elements);
        var names = fixedBuckets.Buckets.SelectMany(b => b.ParameterNames).ToList();
        Assert.DoesNotContain("layers.classifier.weight", names);
        Assert.Contains("layers.classifier.alpha", names);
        Assert.Contains("layers.classifier.bias", names);
    }

    [Fact]
    public void The_optimizer_groups_hold_every_trainable_parameter_once_and_not_the_fixed_weight()
    {
        using var scope = NewDisposeScope();
        using var model = Mlp("hadamard");
        using var optimizer = OptimizerFactory.Create(new OptimizerSpec(OptimizerKind.Sgd, 0.1, 0.9, false, 5e-4), model.parameters());
        var grouped = optimizer.ParamGroups.Cast<SGD.ParamGroup>().SelectMany(g => g.Parameters).Select(p => p.Handle).ToList();
        var weight = model.modules().OfType<HadamardClassifier>().Single().Weight;

        Assert.DoesNotContain(weight.Handle, grouped);
        Assert.Equal(model.parameters().Select(p => p.Handle).Order(), grouped.Order());
        var alpha = model.modules().OfType<HadamardClassifier>().Single().Alpha;
        Assert.Contains(alpha.Handle, optimizer.ParamGroups.Cast<SGD.ParamGroup>().Last().Parameters.Select(p => p.Handle)); // learned, never decayed
    }

    [Fact]
    public void Buffer_sync_averages_running_statistics_and_leaves_the_fixed_weight_alone()
    {
        // Each rank marks its own copy of W: an averaged W would come back as the mean of the marks.
        var results = InProcessWorld.Run(3, communicator =>
        {
            using var scope = NewDisposeScope();
            using var model = Mlp("hadamard");
            using var synchronizer = new MpiGradientSynchronizer(communicator, CompressionSpec.Default, seed: 1);
            synchronizer.Attach(model);
            var norm = (BatchNorm1d)model.named_modules().Single(m => m.name == "layers.norm1").module;
            var weight = model.modules().OfType<HadamardClassifier>().Single().Weight;
            using (no_grad())
            {
                norm.running_mean!.fill_(communicator.Rank);
                weight.mul_(communicator.Rank + 1);
            }
            synchronizer.SyncBuffers(model);
            return (Mean: norm.running_mean!.mean().item<float>(), WeightScale: weight.abs().mean().item<float>());
        });
        Assert.All(results, r => Assert.Equal(1f, r.Mean, 6));                     // (0 + 1 + 2) / 3
        Assert.Equal([1f, 2f, 3f], results.Select(r => r.WeightScale).ToArray());   // every rank's own W
    }
}
