using Orchestrator.Spec;
using Orchestrator.Trainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Models;

public sealed class HadamardClassifierTests
{
    /// <summary>Same shape and bit-identical elements (TorchSharp's <c>equal</c> is element-wise).</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(64)]
    public void Sylvester_matrices_are_orthogonal_with_unit_entries(long n)
    {
        using var scope = NewDisposeScope();
        var h = HadamardMatrix.Sylvester(n);
        Assert.Equal(new[] { n, n }, h.shape);
        Assert.True(Same(h.abs(), ones(n, n)), "entries are +-1");
        Assert.True(Same(h.matmul(h.t()), eye(n) * n), "H H^T = n I");
    }

    [Fact]
    public void Sylvester_rejects_sizes_that_are_not_powers_of_two()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HadamardMatrix.Sylvester(6));
        Assert.Throws<ArgumentOutOfRangeException>(() => HadamardMatrix.Sylvester(0));
        Assert.Equal(16, HadamardMatrix.NextPowerOfTwo(10));
        Assert.Equal(8, HadamardMatrix.NextPowerOfTwo(8));
        Assert.Equal(1, HadamardMatrix.NextPowerOfTwo(1));
    }

    [Theory]
    [InlineData(128, 10)] // n = 128
    [InlineData(10, 100)] // more classes than features: n = 128
    [InlineData(48, 10)]  // n = 64, cut on both sides
    public void The_fixed_weight_is_the_cut_Hadamard_matrix_and_not_trained(long inFeatures, long classes)
    {
        using var scope = NewDisposeScope();
        using var classifier = new HadamardClassifier(inFeatures, classes);
        long n = HadamardMatrix.NextPowerOfTwo(Math.Max(inFeatures, classes));
        var expected = HadamardMatrix.Sylvester(n).narrow(0, 0, classes).narrow(1, 0, inFeatures);
        Assert.True(Same(expected, classifier.Weight), "W = Hadamard rows cut to out x in");
        Assert.False(classifier.Weight.requires_grad);
        Assert.Contains(classifier.named_buffers(), b => b.name == "weight");
        Assert.DoesNotContain(classifier.parameters(), p => p.Handle == classifier.Weight.Handle);
        Assert.Equal(["alpha", "bias"], classifier.named_parameters().Select(p => p.name).Order());
        Assert.Equal(1.0 / Math.Sqrt(classes), classifier.Alpha.item<float>(), 1e-6);
        Assert.Equal(0, classifier.Alpha.dim());

        var x = randn(5, inFeatures);
        var logits = classifier.forward(x);
        Assert.Equal(new[] { 5L, classes }, logits.shape);
        logits.square().sum().backward();
        Assert.NotNull(classifier.Alpha.grad);
        Assert.NotNull(classifier.Bias.grad);
        Assert.True(classifier.Alpha.grad!.abs().item<float>() > 0, "alpha receives a gradient");
        Assert.True(classifier.Bias.grad!.abs().sum().item<float>() > 0, "bias receives a gradient");
        Assert.Null(classifier.Weight.grad);
    }

    [Fact]
    public void Logits_are_alpha_times_normalized_rows_times_W_transposed_plus_bias()
    {
        using var scope = NewDisposeScope();
        using var classifier = new HadamardClassifier(16, 5);
        using (no_grad())
        {
            classifier.Alpha.fill_(2.5);
            classifier.Bias.copy_(arange(5, dtype: ScalarType.Float32));
        }
        var x = randn(4, 16);
        var normalized = x / x.norm(1, keepdim: true);
        var expected = normalized.matmul(classifier.Weight.t()) * 2.5 + arange(5, dtype: ScalarType.Float32);
        Assert.True(classifier.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-5));
        // Rows are normalized: scaling an input row leaves its logits unchanged.
        var scaled = x * tensor(new float[] { 0.01f, 1f, 7f, 300f }).unsqueeze(1);
        Assert.True(classifier.forward(scaled).allclose(classifier.forward(x), rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Converting_the_classifier_converts_the_fixed_weight()
    {
        using var scope = NewDisposeScope();
        using var classifier = new HadamardClassifier(8, 3);
        classifier.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, classifier.Weight.dtype);
        Assert.Equal(ScalarType.Float64, classifier.forward(randn(2, 8, dtype: ScalarType.Float64)).dtype);
        Assert.False(classifier.Weight.requires_grad);
    }

    [Fact]
    public void A_model_with_the_fixed_classifier_does_not_optimize_its_weight()
    {
        using var scope = NewDisposeScope();
        using var model = ModelRegistry.Create(new ModelSpec(ModelKind.Mlp, 2, NormKind.Batch, ClassifierKind.Hadamard), new ModelInput(1, 4, 4, 3));
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("layers.classifier.alpha", names);
        Assert.Contains("layers.classifier.bias", names);
        Assert.DoesNotContain("layers.classifier.weight", names);
        Assert.Contains(model.named_buffers(), b => b.name == "layers.classifier.weight");
    }

    [Theory]
    [InlineData("mlp", 1, 28, 28, 10)]
    [InlineData("cnn", 1, 28, 28, 10)]
    [InlineData("resnet20", 3, 32, 32, 10)]
    [InlineData("resnet44", 1, 28, 28, 7)]
    public void Every_kind_builds_and_runs_with_the_hadamard_classifier(string kind, int channels, int height, int width, int classes)
    {
        using var scope = NewDisposeScope();
        using var model = ModelRegistry.Create(new ModelSpec(Named.Model(kind), 4, NormKind.Batch, ClassifierKind.Hadamard), new ModelInput(channels, height, width, classes));
        Assert.Contains(model.modules(), m => m is HadamardClassifier);
        var logits = model.forward(randn(3, channels, height, width));
        Assert.Equal(new long[] { 3, classes }, logits.shape);
        logits.sum().backward();
        Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
    }

}
