using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary><c>training.quantize</c>, <c>training.gradient_sparsity</c>, <c>model.weight_sparsity</c>: binding, defaults, round trip, bad input.</summary>
public sealed class LowPrecisionSpecTests
{
    [Fact]
    public void The_sections_bind_with_their_defaults_and_left_out_bit_widths_stay_fp32()
    {
        var spec = Parse("""
            name: demo
            model: { kind: cnn, weight_sparsity: { n: 2, m: 4 } }
            training: { quantize: { weights: 8, gradients: 6 }, gradient_sparsity: { pruner: greedy } }
            """);
        Assert.Equal(new QuantizeSpec(8, null, 6, Stochastic: true, Bifurcation: true), spec.Training.Quantize);
        Assert.Equal("w8 g6 stochastic bifurcation", spec.Training.Quantize!.Label);
        Assert.Equal(new GradientSparsitySpec(1, 2, PrunerKind.Greedy), spec.Training.GradientSparsity);
        Assert.False(spec.Training.GradientSparsity!.DenseFirstLast);
        var edges = Parse("name: demo\ntraining: { gradient_sparsity: { dense_first_last: true } }").Training.GradientSparsity!;
        Assert.Equal(new GradientSparsitySpec(1, 2, PrunerKind.Mvue, DenseFirstLast: true), edges);
        Assert.Equal("1:2 mvue, first and last dense", edges.Label);
        Assert.Equal(GradientGemms.Both, edges.Gemms);
        var update = Parse("name: demo\ntraining: { gradient_sparsity: { gemms: weight_gradient, dense_first_last: true } }").Training.GradientSparsity!;
        Assert.Equal("1:2 mvue, weight_gradient, first and last dense", update.Label);
        Assert.Equal(new WeightSparsitySpec(2, 4, true, MaskMethod.Greedy, 40), spec.Model.WeightSparsity);
        // Absent sections stay null: fp32, dense.
        var plain = Parse("name: demo");
        Assert.Null(plain.Training.Quantize);
        Assert.Null(plain.Training.GradientSparsity);
        Assert.Null(plain.Model.WeightSparsity);
    }

    public static TheoryData<JobSpec> RoundTripSpecs => new()
    {
        Parse("name: demo\ntraining: { quantize: { weights: 8, activations: 8, gradients: 8, stochastic: false, bifurcation: false } }"),
        Parse("name: demo\ntraining: { quantize: { activations: 4 }, gradient_sparsity: { n: 2, m: 4, pruner: mvue } }"),
        Parse("name: demo\ntraining: { gradient_sparsity: { n: 1, m: 2, dense_first_last: true } }"),
        Parse("name: demo\ntraining: { quantize: { gradients: 8 }, gradient_sparsity: { gemms: weight_gradient } }"),
        Parse("name: demo\nmodel: { weight_sparsity: { n: 4, m: 8, transposable: false, method: optimal, recompute_every: 1 } }"),
        Parse("name: demo\ntraining: { quantize: {} }"),
    };

    [Theory]
    [MemberData(nameof(RoundTripSpecs))]
    public void ToYaml_round_trips_the_sections(JobSpec spec)
    {
        Assert.Empty(JobSpecValidator.Validate(spec));
        Assert.Equal(spec, Parse(JobSpecYaml.ToYaml(spec)));
    }

    [Theory]
    [InlineData("training: { quantize: { weights: 3 } }", "training.quantize.weights: must be >= 4 and <= 16 bits, got 3 (leave it out for fp32) (line 2)")]
    [InlineData("training: { quantize: { activations: 17 } }", "training.quantize.activations: must be >= 4 and <= 16 bits, got 17 (leave it out for fp32) (line 2)")]
    [InlineData("training: { quantize: { gradients: 0 } }", "training.quantize.gradients: must be >= 4 and <= 16 bits, got 0 (leave it out for fp32) (line 2)")]
    [InlineData("training: { gradient_sparsity: { n: 2, m: 2 } }", "training.gradient_sparsity.n: must be < training.gradient_sparsity.m (2): N:M keeps n of every m values (line 2)")]
    [InlineData("training: { gradient_sparsity: { m: 1 } }", "training.gradient_sparsity.m: must be >= 2 and <= 16 (line 2)")]
    [InlineData("training: { gradient_sparsity: { n: 2, m: 32 } }", "training.gradient_sparsity.m: must be >= 2 and <= 16 (line 2)")]
    [InlineData("model: { weight_sparsity: { n: 4 } }", "model.weight_sparsity.n: must be < model.weight_sparsity.m (4): N:M keeps n of every m values (line 2)")]
    [InlineData("model: { weight_sparsity: { n: 2, m: 17 } }", "model.weight_sparsity.m: must be >= 2 and <= 16 (line 2)")]
    [InlineData("model: { weight_sparsity: { n: 0 } }", "model.weight_sparsity.n: must be >= 1 (line 2)")]
    [InlineData("model: { weight_sparsity: { recompute_every: 0 } }", "model.weight_sparsity.recompute_every: must be >= 1 (steps between mask recomputations) (line 2)")]
    public void Bad_values_are_errors_naming_the_field(string body, string expected)
    {
        var ex = Fails("name: demo\n" + body);
        Assert.Equal([expected], ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void An_unknown_method_or_pruner_lists_the_choices()
    {
        Assert.Contains("model.weight_sparsity.method", FailsOnce("name: demo\nmodel: { weight_sparsity: { method: exact } }").ToString());
        Assert.Contains("greedy", FailsOnce("name: demo\ntraining: { gradient_sparsity: { pruner: topn } }").ToString());
        Assert.Contains("weight_gradient", FailsOnce("name: demo\ntraining: { gradient_sparsity: { gemms: update } }").ToString());
    }
}
