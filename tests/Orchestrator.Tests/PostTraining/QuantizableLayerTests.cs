using Orchestrator.Spec;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.PostTraining.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.PostTraining;

/// <summary>Which layers the quantizer takes: every conv and linear layer of the models, and a clear refusal of trained
/// weights it cannot quantize (they would otherwise stay fp32 while the report counts the model as quantized).</summary>
public sealed class QuantizableLayerTests
{
    [Theory]
    [InlineData("cnn", 4)]
    [InlineData("mlp", 3)]
    [InlineData("resnet20", 22)] // 19 3x3 convs, 2 projection shortcuts (1x1), the classifier
    public void Every_conv_and_linear_layer_of_a_model_is_taken(string kind, int expected)
    {
        using var model = ModelRegistry.Create(new ModelSpec(Named.Model(kind), 4, NormKind.Batch), new ModelInput(1, 28, 28, 10));
        Assert.Equal(expected, QuantizableLayer.Of(model).Count);
    }

    [Fact]
    public void Trained_weights_in_another_kind_of_layer_are_refused_by_name()
    {
        using var model = nn.Sequential(("embed", nn.Conv1d(1, 4, 3)), ("head", nn.Linear(4, 2)));
        var error = Assert.Throws<UserFacingException>(() => QuantizableLayer.Of(model));
        Assert.Contains("embed (Conv1d)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("head", error.Message, StringComparison.Ordinal);
    }
}
