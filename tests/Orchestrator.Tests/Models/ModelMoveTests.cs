using Orchestrator.Spec;
using Orchestrator.Trainer.LowPrecision;
using Orchestrator.Trainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Models;

/// <summary>
/// <c>model.to(device)</c> on a GPU replaces every parameter and buffer with a new tensor and disposes the old ones; a
/// module that kept a reference from construction then computes with a disposed tensor (seen on an H200: the low-precision
/// layers' weights). On the CPU a dtype round trip (float32 to float64 and back) replaces them the same way and restores
/// the same values, so the moved model must compute exactly what an unmoved twin does.
/// </summary>
public sealed class ModelMoveTests
{
    public static TheoryData<string, string, bool> Models() => new()
    {
        { "cnn", "batch", false },
        { "cnn", "ghost_batch", false },
        { "cnn", "range_batch", true },
        { "mlp", "batch", true },
        { "resnet20", "ghost_batch", true },
        { "cnn", "none", true },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void A_model_whose_tensors_were_replaced_computes_what_its_unmoved_twin_does(string kind, string norm, bool lowPrecision)
    {
        set_num_threads(1);
        var input = new ModelInput(1, 16, 16, 10);
        using var x = randn(8, 1, 16, 16, generator: new Generator(3));
        var spec = new ModelSpec(Named.Model(kind), 4, Named.Norm(norm));

        var (twinLoss, twinGrads) = ForwardBackward(Create(spec, input, lowPrecision), x);
        var moved = Create(spec, input, lowPrecision);
        moved.to(ScalarType.Float64).to(ScalarType.Float32);
        var (movedLoss, movedGrads) = ForwardBackward(moved, x);

        Assert.Equal(twinLoss, movedLoss);
        Assert.Equal(twinGrads.Count, movedGrads.Count);
        for (int i = 0; i < twinGrads.Count; i++)
            Assert.True(twinGrads[i].SequenceEqual(movedGrads[i]), $"gradient {i} differs after the move");
    }

    private static nn.Module<Tensor, Tensor> Create(ModelSpec spec, ModelInput input, bool lowPrecision)
    {
        manual_seed(11);
        var layers = lowPrecision
            ? new LowPrecisionTraining(new QuantizeSpec(8, 8, 8), new GradientSparsitySpec(1, 2, PrunerKind.Mvue),
                new WeightSparsitySpec(2, 4, true, MaskMethod.Greedy, 3), seed: 5, rank: 0).LayerFactory
            : null;
        return ModelRegistry.Create(spec, input, ghostBatch: 4, layers);
    }

    private static (float Loss, List<float[]> Gradients) ForwardBackward(nn.Module<Tensor, Tensor> model, Tensor x)
    {
        using var scope = NewDisposeScope();
        model.train();
        manual_seed(17);
        var loss = model.forward(x).square().mean();
        loss.backward();
        var grads = model.parameters().Select(p => p.grad is { } g ? g.data<float>().ToArray() : []).ToList();
        Assert.All(grads, g => Assert.NotEmpty(g));
        return (loss.item<float>(), grads);
    }
}
