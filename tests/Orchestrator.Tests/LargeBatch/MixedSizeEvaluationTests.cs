using Orchestrator.Spec;
using Orchestrator.Tests.Training;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Normalization;
using Orchestrator.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Tests.LargeBatch;

/// <summary>
/// Mix &amp; Match trains at other sizes than it evaluates at, so the training-time running statistics do
/// not describe the evaluation size: the loop re-estimates them at the native size before every evaluation.
/// </summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class MixedSizeEvaluationTests
{
    private const int Batch = 64;

    private static JobSpec Spec(string norm)
    {
        var spec = TestSpecs.Synthetic(epochs: 1, batch: Batch, kind: ModelKind.ResNet20, width: 4, norm: Named.Norm(norm));
        // Neither size is the native 12: the training-time statistics all come from resized images.
        var mixed = new MixedSizeSpec(MixedSizeMode.BPlus, [8, 16], [0.5, 0.5]);
        return spec with { Training = spec.Training with { GhostBatch = norm == "ghost_batch" ? 32 : 0, MixedSize = mixed } };
    }

    private static TrainingRun NewRun(JobSpec spec, DatasetSplits data, RecordingObserver observer) =>
        new(spec, data, new TrainingOptions(torch.CPU, null, new SingleProcessSynchronizer(), observer));

    private static (Tensor Mean, Tensor Var) StemStatistics(nn.Module model)
    {
        var norm = model.named_modules().Single(m => m.name == "body.stem_norm").module;
        return norm switch
        {
            BatchNorm2d bn => (bn.running_mean!.clone(), bn.running_var!.clone()),
            GhostBatchNorm ghost => (ghost.RunningMean.clone(), ghost.RunningVar.clone()),
            _ => throw new InvalidOperationException($"unexpected norm {norm.GetType().Name}"),
        };
    }

    [Theory]
    [InlineData("batch")]
    [InlineData("ghost_batch")]
    public void Evaluation_uses_running_statistics_averaged_over_native_size_training_batches(string norm)
    {
        torch.set_num_threads(1);
        var spec = Spec(norm);
        var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
        var observer = new RecordingObserver();
        using var evaluated = NewRun(spec, data, observer);
        evaluated.Run();

        // The same training without evaluations: bit-identical parameters, training-time running statistics.
        using var trainedOnly = NewRun(spec, data, new RecordingObserver());
        for (var position = TrainingPosition.Start; position.Epoch < 1; position = trainedOnly.Next(position))
            trainedOnly.TrainStep(position);
        Assert.All(evaluated.Model.parameters().Zip(trainedOnly.Model.parameters()), p => Assert.True(p.First.eq(p.Second).all().item<bool>()));

        // Expected: the plain average of the stem's per-batch statistics over the re-estimation batches, the first
        // training images in dataset order at the native size in batches of max(global batch / workers, 32).
        var stem = (nn.Module<Tensor, Tensor>)evaluated.Model.named_modules().Single(m => m.name == "body.stem").module;
        var means = new List<Tensor>();
        var vars = new List<Tensor>();
        using (no_grad())
            for (int b = 0; (b + 1) * Batch <= data.Train.Count && b < 20; b++)
            {
                var features = stem.forward(data.Train.Images.narrow(0, (long)b * Batch, Batch));
                means.Add(features.mean([0, 2, 3]));
                vars.Add(features.var([0, 2, 3], unbiased: true));
            }
        Assert.Equal(8, means.Count);
        var (mean, variance) = StemStatistics(evaluated.Model);
        Assert.True(mean.allclose(stack(means).mean([0]), rtol: 1e-4, atol: 1e-5), "running mean is the re-estimated average");
        Assert.True(variance.allclose(stack(vars).mean([0]), rtol: 1e-4, atol: 1e-5), "running variance is the re-estimated average");

        var (trainedMean, trainedVar) = StemStatistics(trainedOnly.Model);
        Assert.False(trainedMean.allclose(mean, rtol: 1e-3, atol: 1e-4) && trainedVar.allclose(variance, rtol: 1e-3, atol: 1e-4),
            "the training-time statistics (sizes 8 and 16) differ from the native-size ones");

        // The recorded evaluation is the model with the re-estimated statistics, not with the training-time ones.
        var recorded = Assert.Single(observer.Evaluations);
        Assert.Equal(recorded.TestLoss, Evaluator.Evaluate(evaluated.Model, data.Test).Loss, 6);
        Assert.NotEqual(recorded.TestLoss, Evaluator.Evaluate(trainedOnly.Model, data.Test).Loss, 6);
    }
}
