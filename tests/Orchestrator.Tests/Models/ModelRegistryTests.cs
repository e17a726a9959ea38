using Orchestrator.Spec;
using Orchestrator.Trainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Models;

public sealed class ModelRegistryTests
{
    [Theory]
    [InlineData("mlp", 1, 28, 28, 10)]
    [InlineData("cnn", 1, 28, 28, 10)]
    [InlineData("cnn", 3, 32, 32, 10)]
    [InlineData("resnet20", 3, 32, 32, 10)]
    [InlineData("resnet44", 1, 28, 28, 7)]
    public void Every_kind_maps_a_batch_to_class_logits(string kind, int channels, int height, int width, int classes)
    {
        using var model = ModelRegistry.Create(new ModelSpec(Named.Model(kind), 4, NormKind.Batch), new ModelInput(channels, height, width, classes));
        using var x = randn(3, channels, height, width);
        using var logits = model.forward(x);
        Assert.Equal(new long[] { 3, classes }, logits.shape);
    }

    [Fact]
    public void Resnet_depths_have_the_expected_number_of_convolutions()
    {
        int Convs(string kind) => ModelRegistry.Create(new ModelSpec(Named.Model(kind), 4, NormKind.Batch), new ModelInput(3, 32, 32, 10))
            .named_parameters().Count(p => p.parameter.dim() == 4 && p.parameter.shape[2] == 3);
        Assert.Equal(19, Convs("resnet20")); // stem + 3 stages x 3 blocks x 2
        Assert.Equal(43, Convs("resnet44"));
    }

    [Fact]
    public void The_norm_factory_decides_the_layers_and_the_conv_biases()
    {
        var input = new ModelInput(1, 28, 28, 10);
        using var batch = ModelRegistry.Create(new ModelSpec(ModelKind.Cnn, 4, NormKind.Batch), input);
        using var none = ModelRegistry.Create(new ModelSpec(ModelKind.Cnn, 4, NormKind.None), input);
        Assert.Contains(batch.modules(), m => m.GetType().Name == "BatchNorm2d");
        Assert.DoesNotContain(none.modules(), m => m.GetType().Name.StartsWith("BatchNorm"));
        Assert.DoesNotContain(batch.named_parameters(), p => p.name == "features.conv1.bias");
        Assert.Contains(none.named_parameters(), p => p.name == "features.conv1.bias");
    }

}
