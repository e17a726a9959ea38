using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.LowPrecision;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Drivers;

/// <summary>How far one layer's weight gradient moves when its neural gradient is N:M-pruned for the weight-gradient GEMM.</summary>
/// <param name="GreedyNormRatio">|dW from the greedy-pruned gradient| / |dense dW|.</param>
/// <param name="GreedyCosine">Cosine of the greedy dW with the dense one (greedy is deterministic: this is its bias).</param>
/// <param name="OneDrawCosine">Cosine of one MVUE draw's dW with the dense one (its noise in a single step).</param>
/// <param name="MeanCosine">Cosine of the mean dW over the draws with the dense one (-> 1: unbiased).</param>
public sealed record LayerGradientBias(string Layer, long[] GradientShape, double GreedyNormRatio, double GreedyCosine, double OneDrawCosine, double MeanCosine);

/// <summary>
/// <c>bench gradient-bias</c>: trains a model for some steps on Fashion-MNIST, captures every conv and linear layer's input
/// and output gradient on one batch, and compares each layer's weight gradient from the dense neural gradient with the
/// ones from its greedy and MVUE N:M-pruned versions (blocks as <see cref="NeuralGradientPruning"/> lays them out for the
/// weight-gradient GEMM). Shows why greedy pruning costs a model much or little: a shrunken but well-aimed update, or a
/// turned one, against MVUE's noise that averages out.
/// </summary>
public static class WeightGradientBias
{
    /// <summary>The job the command measures: Fashion-MNIST without augmentation, SGD as <c>bench low-precision</c>'s fp32 row.</summary>
    public static JobSpec Spec(string root, ModelKind model, int width, NormKind norm, int batch, int threads) =>
        new("bench-gradient-bias", DeviceKind.Cpu, new ModelSpec(model, width, norm),
            new DataSpec(DatasetKind.FashionMnist, root, 0, 0, new AugmentSpec(0, false, 0)),
            new TrainingSpec(1, batch, new OptimizerSpec(OptimizerKind.Sgd, 0.02, 0.9, false, 5e-4), 1, threads), new CheckpointSpec(0, 1));

    /// <summary>The figures of every conv and linear layer of <paramref name="spec"/>'s model after <paramref name="steps"/>
    /// training steps, on the first global batch of <paramref name="data"/>'s training images.</summary>
    public static IReadOnlyList<LayerGradientBias> Measure(JobSpec spec, DatasetSplits data, int steps, int n, int m, int draws)
    {
        using var run = new TrainingRun(spec, data, new TrainingOptions(CPU, null, new SingleProcessSynchronizer(), NullTrainingObserver.Instance,
            Resume: false, VerifyEverySteps: 0));
        var position = TrainingPosition.Start;
        for (int i = 0; i < steps; i++) position = run.Next(position, run.TrainStep(position).Applied);

        using var scope = NewDisposeScope();
        int batch = spec.Training.GlobalBatch;
        var captured = Capture(run.Model, data.Train.Images.narrow(0, 0, batch), data.Train.Labels.narrow(0, 0, batch), scope);
        var figures = new List<LayerGradientBias>();
        foreach (var (name, layer, input, output) in captured)
        {
            var gradient = output.grad ?? throw new InvalidOperationException($"layer {name} got no gradient");
            var dense = WeightGradient(layer, input, gradient);
            var greedy = WeightGradient(layer, input, NeuralGradientPruning.Prune(gradient, n, m, PrunerKind.Greedy, 1));
            var oneDraw = WeightGradient(layer, input, NeuralGradientPruning.Prune(gradient, n, m, PrunerKind.Mvue, 1));
            var mean = zeros_like(dense);
            for (int d = 0; d < draws; d++)
                mean.add_(WeightGradient(layer, input, NeuralGradientPruning.Prune(gradient, n, m, PrunerKind.Mvue, (ulong)(2 + d))));
            mean.div_(draws);
            figures.Add(new(name, gradient.shape, Norm(greedy) / Norm(dense), Cosine(greedy, dense), Cosine(oneDraw, dense), Cosine(mean, dense)));
        }
        return figures;
    }

    /// <summary>One training-mode forward and backward of <paramref name="images"/>, keeping each conv and linear layer's
    /// input and output (with its gradient), owned by <paramref name="owner"/>.</summary>
    private static List<(string Name, nn.Module Layer, Tensor Input, Tensor Output)> Capture(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels,
        DisposeScope owner)
    {
        var captured = new List<(string, nn.Module, Tensor, Tensor)>();
        var removers = new List<Action>();
        foreach (var (name, module) in model.named_modules())
            if (module is (Convolution or Linear) and nn.Module<Tensor, Tensor> layer)
            {
                var hook = layer.register_forward_hook((self, input, output) =>
                {
                    // The model disposes each layer's output once the next layer has it (Sequential, a block's dispose
                    // scope): this handle goes to the caller's scope, and the model gets a view.
                    output.retain_grad();
                    captured.Add((name, self, input.detach().MoveToOtherDisposeScope(owner), output.MoveToOtherDisposeScope(owner)));
                    return output.alias();
                });
                removers.Add(hook.remove);
            }
        try
        {
            // A scope of its own, so what the hooks keep always moves to another scope: TorchSharp 0.107's move of a tensor
            // to the scope that already owns it drops it from that scope's list but leaves the scope as its owner, and
            // the tensor's finalizer then throws on the disposed scope (a test-host crash).
            using var forward = NewDisposeScope();
            model.train();
            var loss = nn.functional.cross_entropy(model.call(images), labels);
            loss.backward();
        }
        finally
        {
            foreach (var remove in removers) remove();
        }
        return captured;
    }

    /// <summary>dW of <paramref name="layer"/> for <paramref name="input"/> and the output gradient <paramref name="gradient"/>, in float64.</summary>
    private static Tensor WeightGradient(nn.Module layer, Tensor input, Tensor gradient)
    {
        var weight = (layer is Convolution c ? c.weight! : ((Linear)layer).weight).detach().clone().requires_grad_(true);
        using var output = layer is Convolution conv
            ? nn.functional.conv2d(input.contiguous(), weight, null, conv.stride, conv.padding!, conv.dilation, conv.groups)
            : nn.functional.linear(input, weight);
        return torch.autograd.grad([output], [weight], [gradient.contiguous()])[0].to(ScalarType.Float64);
    }

    private static double Norm(Tensor t) => t.norm().item<double>();

    private static double Cosine(Tensor a, Tensor b) => (a * b).sum().item<double>() / (Norm(a) * Norm(b));
}
