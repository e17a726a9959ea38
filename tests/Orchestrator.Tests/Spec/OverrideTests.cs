using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

public class OverrideTests
{
    [Fact]
    public void Scalar_overrides_replace_file_values()
    {
        var spec = Parse(FullYaml, "training.optimizer.lr=0.3", "data.augment.flip=false", "training.seed=-7", "name=other");

        Assert.Equal(0.3, spec.Training.Optimizer.Lr);
        Assert.False(spec.Data.Augment.Flip);
        Assert.Equal(-7L, spec.Training.Seed);
        Assert.Equal("other", spec.Name);
        // Everything else is untouched.
        Assert.Equal(Full with
        {
            Name = "other",
            Data = Full.Data with { Augment = Full.Data.Augment with { Flip = false } },
            Training = Full.Training with { Seed = -7, Optimizer = Full.Training.Optimizer with { Lr = 0.3 } },
        }, spec);
    }

    [Fact]
    public void Override_creates_missing_intermediate_mappings()
    {
        var spec = Parse("name: demo", "training.optimizer.momentum=0.5", "data.augment.cutout=4");

        Assert.Equal(JobSpecDefaults.Optimizer with { Momentum = 0.5 }, spec.Training.Optimizer);
        Assert.Equal(JobSpecDefaults.Augment with { Cutout = 4 }, spec.Data.Augment);
    }

    [Fact]
    public void Override_can_supply_the_required_name()
    {
        Assert.Equal("from-cli", Parse("device: cpu", "name=from-cli").Name);
        Assert.Equal("from-cli", Parse("", "name=from-cli").Name);
    }

    [Fact]
    public void Flow_mapping_override_replaces_the_whole_section()
    {
        var spec = Parse(FullYaml, "model={kind: mlp, width: 64}");

        // The file's norm: none is gone: the section was replaced, not merged.
        Assert.Equal(new ModelSpec(ModelKind.Mlp, 64, NormKind.Batch), spec.Model);
    }

    [Fact]
    public void Later_overrides_win()
    {
        var spec = Parse("name: demo", "training.epochs=2", "training.epochs=3");
        Assert.Equal(3, spec.Training.Epochs);
    }

    [Fact]
    public void Deeper_override_after_section_replacement_merges_into_it()
    {
        var spec = Parse("name: demo", "model={kind: mlp}", "model.width=8");
        Assert.Equal(new ModelSpec(ModelKind.Mlp, 8, NormKind.Batch), spec.Model);
    }

    [Fact]
    public void Override_through_a_scalar_replaces_it_with_a_mapping()
    {
        var spec = Parse("name: demo", "model=cnn", "model.width=8");
        Assert.Equal(JobSpecDefaults.Model with { Width = 8 }, spec.Model);
    }

    [Fact]
    public void Override_with_spaces_around_path_and_quoted_string_value()
    {
        var spec = Parse("name: demo", " data.root = '/mnt/my data' ");
        Assert.Equal("/mnt/my data", spec.Data.Root);
    }

    [Fact]
    public void Override_value_may_contain_equals_signs()
    {
        var spec = Parse("name: demo", "data.root=/data/a=b");
        Assert.Equal("/data/a=b", spec.Data.Root);
    }

    [Fact]
    public void Override_fixes_an_invalid_file_value()
    {
        var spec = Parse("name: demo\ntraining: { epochs: 0 }", "training.epochs=4");
        Assert.Equal(4, spec.Training.Epochs);
    }

    [Fact]
    public void Unknown_override_path_is_reported_with_suggestion()
    {
        var error = FailsOnce("name: demo", "training.epoch=5");

        Assert.Equal("training.epoch", error.Path);
        Assert.Equal("unknown field (from --set); did you mean 'epochs'?", error.Message);
        Assert.Null(error.Line);
        Assert.True(error.FromOverride);
        Assert.Equal("training.epoch: unknown field (from --set); did you mean 'epochs'?", error.ToString());
    }

    [Fact]
    public void Unknown_override_path_is_reported_in_full_even_when_its_first_part_is_unknown()
    {
        var error = FailsOnce("name: demo", "trainer.optimizer.lr=0.1");
        Assert.Equal("trainer.optimizer.lr: unknown field (from --set)", error.ToString());
    }

    [Fact]
    public void Unknown_key_inside_an_override_mapping_is_from_set()
    {
        var error = FailsOnce("name: demo", "model={kind: mlp, widht: 64}");
        Assert.Equal("model.widht: unknown field (from --set); did you mean 'width'?", error.ToString());
    }

    [Fact]
    public void Invalid_override_values_are_marked_set_instead_of_a_line()
    {
        var ex = Fails("name: demo", "training.epochs=0", "training.global_batch=big", "device=tpu");

        Assert.Equal(
            [
                // Errors without a line keep their discovery order: type errors in schema order, then range errors.
                "device: must be one of auto, cpu, cuda; got 'tpu' (--set)",
                "training.global_batch: expected an integer, got 'big' (--set)",
                "training.epochs: must be >= 1 (--set)",
            ],
            ex.Errors.Select(e => e.ToString()));
        Assert.All(ex.Errors, e => Assert.Null(e.Line));
    }

    [Fact]
    public void Override_too_large_for_its_field_is_out_of_range()
    {
        var error = FailsOnce("name: demo", "training.epochs=99999999999999");
        Assert.Equal("training.epochs: 99999999999999 is out of range: this field holds at most 2147483647 (--set)", error.ToString());
    }

    [Fact]
    public void Empty_override_value_is_nothing()
    {
        var error = FailsOnce("name: demo", "training.epochs=");
        Assert.Equal("training.epochs: expected an integer, got nothing (--set)", error.ToString());
    }

    [Theory]
    [InlineData("training.epochs", "expected dotted.path=value, got 'training.epochs'")]
    [InlineData("=5", "empty field name in '=5'")]
    [InlineData("training..epochs=5", "empty field name in 'training..epochs=5'")]
    [InlineData(".epochs=5", "empty field name in '.epochs=5'")]
    public void Malformed_override_is_reported_under_set(string text, string message)
    {
        var error = FailsOnce("name: demo", text);
        Assert.Equal("--set", error.Path);
        Assert.Equal(message, error.Message);
        Assert.Null(error.Line);
        Assert.Equal($"--set: {message} (--set)", error.ToString());
    }

    [Fact]
    public void Malformed_override_value_is_reported_under_its_path()
    {
        var error = FailsOnce("name: demo", "model={kind: mlp");
        Assert.Equal("model", error.Path);
        Assert.StartsWith("invalid value: ", error.Message);
        Assert.True(error.FromOverride);
    }

    [Fact]
    public void Override_errors_are_reported_together_with_file_errors()
    {
        var ex = Fails("name: demo\nmodel: { width: 0 }", "nope", "training.epoch=1");

        Assert.Equal(
            [
                "model.width: must be >= 1 (line 2)",
                "--set: expected dotted.path=value, got 'nope' (--set)",
                "training.epoch: unknown field (from --set); did you mean 'epochs'?",
            ],
            ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Malformed_override_is_reported_even_when_the_file_is_malformed()
    {
        var ex = Fails("name: [", "nope");
        Assert.Equal(2, ex.Errors.Count);
        Assert.Contains(ex.Errors, e => e.Path == "--set");
    }

    [Fact]
    public void Unknown_file_key_keeps_its_line_when_an_override_sets_its_value()
    {
        var error = FailsOnce("name: demo\ntraining:\n  epoch: 3", "training.epoch=4");
        Assert.Equal("training.epoch: unknown field; did you mean 'epochs'? (line 3)", error.ToString());
    }
}
