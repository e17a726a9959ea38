using Orchestrator.Spec;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Regimes;
using Orchestrator.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Training;

public sealed class OptimizerFactoryTests
{
    [Fact]
    public void Weight_decay_shrinks_weights_but_never_biases_or_norm_parameters()
    {
        const double lr = 0.1, decay = 0.5;
        using var model = ModelRegistry.Create(new ModelSpec(ModelKind.Mlp, 2, NormKind.Batch), new ModelInput(1, 4, 4, 3));
        var parameters = model.named_parameters().ToList();
        using var optimizer = OptimizerFactory.Create(new OptimizerSpec(OptimizerKind.Sgd, lr, 0.9, false, decay), parameters.Select(p => p.parameter));
        var before = parameters.ToDictionary(p => p.name, p => p.parameter.detach().clone());

        optimizer.zero_grad();
        foreach (var (_, p) in parameters) p.grad = zeros_like(p); // only the decay term moves anything
        optimizer.step();

        foreach (var (name, p) in parameters)
        {
            var expected = p.dim() > 1 ? before[name] * (1 - lr * decay) : before[name];
            Assert.True(p.detach().allclose(expected, rtol: 1e-6, atol: 1e-7), $"{name} (dims {p.dim()})");
        }
        Assert.Contains(parameters, p => p.name.Contains("norm") && p.parameter.dim() == 1);
        Assert.Contains(parameters, p => p.name.Contains("classifier.bias"));
    }

    [Theory]
    [InlineData(0.0, 0.3)]  // a phase turns decay on
    [InlineData(0.5, 0.05)] // a phase changes it
    [InlineData(0.5, 0.0)]  // a phase turns it off
    public void A_phase_weight_decay_reaches_the_weights_and_the_no_decay_group_stays_at_zero(double specDecay, double phaseDecay)
    {
        const double lr = 0.2;
        using var model = ModelRegistry.Create(new ModelSpec(ModelKind.Mlp, 2, NormKind.Batch, ClassifierKind.Hadamard), new ModelInput(1, 4, 4, 3));
        var parameters = model.named_parameters().ToList();
        using var optimizer = OptimizerFactory.Create(new OptimizerSpec(OptimizerKind.Sgd, 1.0, 0.9, false, specDecay), parameters.Select(p => p.parameter));

        OptimizerFactory.Apply(optimizer, new OptimizerSettings(lr, 0, phaseDecay, false));
        var groups = optimizer.ParamGroups.Cast<TorchSharp.Modules.SGD.ParamGroup>().ToList();
        Assert.Equal([phaseDecay, 0.0], groups.Select(g => ((TorchSharp.Modules.SGD.Options)g.Options).weight_decay!.Value));

        var before = parameters.ToDictionary(p => p.name, p => p.parameter.detach().clone());
        optimizer.zero_grad();
        foreach (var (_, p) in parameters) p.grad = zeros_like(p); // only the decay term moves anything
        optimizer.step();
        foreach (var (name, p) in parameters)
        {
            var expected = p.dim() > 1 ? before[name] * (1 - lr * phaseDecay) : before[name];
            Assert.True(p.detach().allclose(expected, rtol: 1e-6, atol: 1e-7), $"{name} (dims {p.dim()})");
        }
        Assert.Contains(parameters, p => p.name == "layers.classifier.alpha"); // a 0-d learned scale: never decayed either
    }

}
