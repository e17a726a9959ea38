using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.PostTraining;
using Orchestrator.Trainer.PostTraining.Calibration;
using static TorchSharp.torch;

namespace Orchestrator.Tests.PostTraining;

/// <summary><c>orchestrator quantize</c>'s options and calibration sources: mistakes are clear errors naming the option.</summary>
public sealed class QuantizeRequestTests
{
    [Theory]
    [InlineData("3", null, 10, "--bits: expected one of 8, 4, mixed, got '3'")]
    [InlineData("mixed", 0.0, 10, "--budget: expected a fraction of the fp32 weight size in (0, 1], got 0")]
    [InlineData("mixed", 1.5, 10, "--budget: expected a fraction of the fp32 weight size in (0, 1], got 1.5")]
    [InlineData("mixed", double.NaN, 10, "--budget: expected a fraction of the fp32 weight size in (0, 1], got NaN")]
    [InlineData("mixed", 0.1, 10, "--budget: 0.1 is below the smallest plan, every layer at 4 bits (0.125 of the fp32 weight size)")]
    [InlineData("8", 0.5, 10, "--budget: only with --bits mixed")]
    [InlineData("4", null, 0, "--samples: expected at least 1 calibration sample, got 0")]
    public void Bad_options_are_errors_naming_the_option(string bits, double? budget, int samples, string message)
    {
        var error = Assert.Throws<UserFacingException>(() => QuantizeRequest.Options(bits, budget, samples, 10, 1));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mixed_takes_the_default_budget_and_labels_name_bits_and_source()
    {
        var mixed = QuantizeRequest.Options("mixed", null, 100, 10, 1);
        Assert.Equal(WeightBitsMode.Mixed, mixed.Bits);
        Assert.Equal(QuantizeRequest.DefaultBudget, mixed.Budget);
        Assert.Equal("mixed13-real", QuantizeRequest.Label(mixed, "real"));
        Assert.Equal("w4a8-synthetic", QuantizeRequest.Label(QuantizeRequest.Options("4", null, 1, 0, 1), "synthetic"));
    }

    [Fact]
    public void Runs_with_low_precision_or_sparse_layers_are_refused_naming_the_field()
    {
        var spec = JobSpecLoader.Parse("""
            name: q
            model: {kind: cnn, width: 4}
            training: {quantize: {weights: 8}}
            """, "spec.yaml", [], SpecHost.CoresOnly);
        var error = Assert.Throws<UserFacingException>(() => QuantizeRequest.CheckModel(spec));
        Assert.Contains("training.quantize: the quantizer supports models of plain fp32 conv and linear layers", error.Message);
        QuantizeRequest.CheckModel(spec with { Training = spec.Training with { Quantize = null } });
    }

    [Fact]
    public void Synthetic_calibration_reads_no_data_and_unknown_names_list_the_choices()
    {
        bool loaded = false;
        TensorDataset Train() { loaded = true; throw new InvalidOperationException("not needed"); }
        var synthetic = CalibrationSources.Create("Synthetic", Train);
        Assert.Equal("synthetic", synthetic.Name);
        var unknown = Assert.Throws<UserFacingException>(() => CalibrationSources.Create("imagenet", Train));
        Assert.Contains("--calibration: unknown source 'imagenet'; expected one of real, synthetic", unknown.Message);
        Assert.False(loaded);
    }

    [Fact]
    public void Real_calibration_takes_training_images_as_training_sees_them_deterministic_by_seed()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(4);
        var images = randn([50, 1, 4, 4], generator: generator);
        var labels = arange(50).remainder(5);
        using var train = new TensorDataset(images, labels, 5);
        var source = CalibrationSources.Create("real", () => train);
        using var model = nn.Linear(16, 5);
        using var a = source.Create(model, 20, seed: 7, Path.GetTempPath(), null);
        using var b = source.Create(model, 20, seed: 7, Path.GetTempPath(), null);
        using var c = source.Create(model, 20, seed: 8, Path.GetTempPath(), null);

        Assert.Equal([20L, 1, 4, 4], a.Images.shape);
        Assert.True(a.Images.equal(b.Images).all().item<bool>());
        Assert.False(a.Images.equal(c.Images).all().item<bool>());
        // Every calibration image is one of the training images, unchanged, and no image is taken twice.
        var distances = cdist(a.Images.reshape(20, -1), images.reshape(50, -1));
        var nearest = distances.argmin(1);
        Assert.True(a.Images.equal(images.index_select(0, nearest)).all().item<bool>());
        Assert.Equal(20, nearest.unique().Item1.numel());
        Assert.Equal(20, a.Report!["per_class"]!.AsArray().Sum(n => n!.GetValue<long>()));
        var tooMany = Assert.Throws<UserFacingException>(() => source.Create(model, 51, 1, Path.GetTempPath(), null));
        Assert.Contains("--samples: 51 calibration samples asked for, but the run's training split has 50 images", tooMany.Message);
    }
}
