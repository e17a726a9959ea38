using Orchestrator.Contracts;
using Orchestrator.Contracts.Spec;
using Orchestrator.Trainer.Models;
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
        using var model = ModelRegistry.Create(new ModelSpec("mlp", 2, "batch"), new ModelInput(1, 4, 4, 3));
        var parameters = model.named_parameters().ToList();
        using var optimizer = OptimizerFactory.Create(new OptimizerSpec("sgd", lr, 0.9, false, decay), parameters.Select(p => p.parameter));
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

    [Fact]
    public void Unknown_optimizer_is_a_user_error()
    {
        using var model = nn.Linear(2, 2);
        var error = Assert.Throws<UserFacingException>(() => OptimizerFactory.Create(new OptimizerSpec("adamw", 0.1, 0, false, 0), model.parameters()));
        Assert.Contains("training.optimizer.kind", error.Message);
    }
}
