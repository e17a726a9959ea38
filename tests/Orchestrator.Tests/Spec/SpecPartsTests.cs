using Orchestrator.Spec;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Tests.Spec;

public class SpecErrorTests
{
    [Fact]
    public void ToString_forms()
    {
        Assert.Equal("training.global_batch: must be >= 1 (line 12)", new SpecError("training.global_batch", "must be >= 1", 12).ToString());
        Assert.Equal("training.epochs: must be >= 1 (--set)", new SpecError("training.epochs", "must be >= 1", null) { FromOverride = true }.ToString());
        Assert.Equal("name: is required", new SpecError("name", "is required", null).ToString());
        Assert.Equal("malformed YAML: oops (line 2)", new SpecError("", "malformed YAML: oops", 2).ToString());
    }

    [Fact]
    public void Exception_with_one_error_says_error_singular()
    {
        var ex = new SpecException("a.yaml", [new SpecError("name", "is required", null)]);
        Assert.Equal("invalid job spec a.yaml: 1 error\n  name: is required", ex.Message);
    }
}

public class DnsLabelTests
{
    [Theory]
    [InlineData("a", true)]
    [InlineData("fmnist-cnn", true)]
    [InlineData("0abc9", true)]
    [InlineData("a--b", true)]
    [InlineData("", false)]
    [InlineData("A", false)]
    [InlineData("a_b", false)]
    [InlineData("-a", false)]
    [InlineData("a-", false)]
    [InlineData("é", false)]
    public void Rules(string name, bool valid) => Assert.Equal(valid, DnsLabel.IsValid(name));

    [Fact]
    public void Length_limit_is_63()
    {
        Assert.True(DnsLabel.IsValid(new string('a', 63)));
        Assert.False(DnsLabel.IsValid(new string('a', 64)));
    }
}

public class JobSpecValidatorTests
{
    [Fact]
    public void Valid_spec_has_no_errors() => Assert.Empty(JobSpecValidator.Validate(SpecTestHelpers.Full));

    [Fact]
    public void Spec_built_in_code_is_checked_too()
    {
        var spec = SpecTestHelpers.Full with
        {
            Name = "",
            Model = SpecTestHelpers.Full.Model with { Kind = (ModelKind)11 },
            Training = SpecTestHelpers.Full.Training with { Optimizer = SpecTestHelpers.Full.Training.Optimizer with { Lr = double.NaN } },
        };

        Assert.Equal(
            ["name: is required", "model.kind: must be one of mlp, cnn, resnet20, resnet44; got '11'", "training.optimizer.lr: must be > 0"],
            JobSpecValidator.Validate(spec).Select(e => e.ToString()));
    }
}

public class MappingReaderTests
{
    private static (MappingReader Reader, SpecReadContext Context) Read(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var context = new SpecReadContext();
        return (new MappingReader((YamlMappingNode)stream.Documents[0].RootNode, "regime", context), context);
    }

    private sealed record Phase(int Epochs, double Lr);

    [Fact]
    public void List_of_mappings_binds_each_item_with_indexed_paths()
    {
        var (reader, context) = Read("""
            phases:
              - { epochs: 2, lr: 0.1 }
              - epochs: 3
                lr: x
                extra: 1
            """);

        var phases = reader.List("phases", [], r => new Phase(r.Int("epochs", 1), r.Double("lr", 0.5)));
        reader.ReportUnknown();

        // A bad item makes the whole list fall back, so nothing half-bound escapes.
        Assert.Empty(phases);
        Assert.Equal(
            ["regime.phases[1].lr: expected a number, got 'x' (line 4)", "regime.phases[1].extra: unknown field (line 5)"],
            context.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void List_of_mappings_binds_when_valid()
    {
        var (reader, context) = Read("phases: [{ epochs: 2, lr: 0.1 }, { epochs: 3 }]");
        var phases = reader.List("phases", [], r => new Phase(r.Int("epochs", 1), r.Double("lr", 0.5)));
        Assert.Equal([new Phase(2, 0.1), new Phase(3, 0.5)], phases);
        Assert.Empty(context.Errors);
    }

    [Fact]
    public void List_of_scalars_and_type_errors()
    {
        var (reader, context) = Read("""
            milestones: [10, 20, 30]
            bad: [1, two]
            notalist: 3
            """);

        Assert.Equal([10, 20, 30], reader.List("milestones", [], ScalarParsers.Int32));
        Assert.Equal([7], reader.List("bad", [7], ScalarParsers.Int32));
        Assert.Equal([7], reader.List("notalist", [7], ScalarParsers.Int32));
        Assert.Equal([7], reader.List("absent", [7], ScalarParsers.Int32));
        Assert.Equal(
            ["regime.bad[1]: expected an integer, got 'two' (line 2)", "regime.notalist: expected a list, got '3' (line 3)"],
            context.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Has_marks_the_key_known()
    {
        var (reader, context) = Read("flag: 1");
        Assert.True(reader.Has("flag"));
        Assert.False(reader.Has("other"));
        reader.ReportUnknown();
        Assert.Empty(context.Errors);
    }
}
