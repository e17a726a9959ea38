using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

public class JobSpecLoaderTests
{
    [Fact]
    public void Only_name_given_fills_every_default()
    {
        var spec = Parse("name: demo");

        Assert.Equal("demo", spec.Name);
        Assert.Equal(DeviceKind.Auto, spec.Device);
        Assert.Equal(new ModelSpec(ModelKind.Cnn, 32, NormKind.Batch), spec.Model);
        Assert.Equal(new DataSpec(DatasetKind.FashionMnist, "/usr/share/datasets/fashion-mnist", 0, 0, new AugmentSpec(0, false, 0)), spec.Data);
        Assert.Equal(new TrainingSpec(5, 256, new OptimizerSpec(OptimizerKind.Sgd, 0.05, 0.9, false, 5e-4), 1, 0), spec.Training);
        Assert.Equal(new CheckpointSpec(200, 3), spec.Checkpoint);
    }

    [Fact]
    public void Partial_section_keeps_defaults_for_missing_keys()
    {
        var spec = Parse("""
            name: demo
            training:
              optimizer: { lr: 0.2 }
            model:
            """);

        Assert.Equal(JobSpecDefaults.Optimizer with { Lr = 0.2 }, spec.Training.Optimizer);
        Assert.Equal(JobSpecDefaults.Training.Epochs, spec.Training.Epochs);
        Assert.Equal(JobSpecDefaults.Model, spec.Model); // "model:" with no value means "all defaults"
    }

    [Fact]
    public void Full_spec_binds_every_field()
    {
        var spec = Parse(FullYaml);

        Assert.Equal("fmnist-cnn", spec.Name);
        Assert.Equal(DeviceKind.Cuda, spec.Device);
        Assert.Equal(ModelKind.ResNet20, spec.Model.Kind);
        Assert.Equal(16, spec.Model.Width);
        Assert.Equal(NormKind.None, spec.Model.Norm);
        Assert.Equal(DatasetKind.Cifar10, spec.Data.Dataset);
        Assert.Equal("/data/cifar", spec.Data.Root);
        Assert.Equal(1000, spec.Data.TrainSubset);
        Assert.Equal(500, spec.Data.TestSubset);
        Assert.Equal(4, spec.Data.Augment.CropPadding);
        Assert.True(spec.Data.Augment.Flip);
        Assert.Equal(8, spec.Data.Augment.Cutout);
        Assert.Equal(7, spec.Training.Epochs);
        Assert.Equal(128, spec.Training.GlobalBatch);
        Assert.Equal(OptimizerKind.Sgd, spec.Training.Optimizer.Kind);
        Assert.Equal(0.1, spec.Training.Optimizer.Lr);
        Assert.Equal(0.8, spec.Training.Optimizer.Momentum);
        Assert.True(spec.Training.Optimizer.Nesterov);
        Assert.Equal(1e-4, spec.Training.Optimizer.WeightDecay);
        Assert.Equal(42L, spec.Training.Seed);
        Assert.Equal(3, spec.Training.Threads);
        Assert.Equal(50, spec.Checkpoint.EverySteps);
        Assert.Equal(2, spec.Checkpoint.Keep);
        Assert.Equal(Full, spec);
    }

    [Fact]
    public void Example_from_the_schema_documentation_parses()
    {
        var spec = Parse("""
            name: fmnist-cnn                 # DNS-1123 label
            device: auto
            model:   { kind: cnn, width: 32, norm: batch }
            data:    { dataset: fashion-mnist, root: /usr/share/datasets/fashion-mnist, train_subset: 0, test_subset: 0,
                       augment: { crop_padding: 2, flip: true, cutout: 0 } }
            training:
              epochs: 5
              global_batch: 256
              optimizer: { kind: sgd, lr: 0.05, momentum: 0.9, nesterov: false, weight_decay: 5e-4 }
              seed: 1
              threads: 0
            checkpoint: { every_steps: 200, keep: 3 }
            """);

        Assert.Equal(new AugmentSpec(2, true, 0), spec.Data.Augment);
        Assert.Equal(5e-4, spec.Training.Optimizer.WeightDecay);
    }

    [Fact]
    public void Synthetic_dataset_ignores_root()
    {
        var spec = Parse("""
            name: demo
            data: { dataset: synthetic, root: "" }
            """);
        Assert.Equal(DatasetKind.Synthetic, spec.Data.Dataset);

        var error = FailsOnce("""
            name: demo
            data: { dataset: mnist-idx, root: "" }
            """);
        Assert.Equal("data.root: must not be empty (line 2)", error.ToString());
    }

    [Fact]
    public void Malformed_yaml_reports_the_parser_line()
    {
        var ex = Fails("""
            name: demo
            training:
              epochs: 3
             global_batch: 4
            """);

        var error = Assert.Single(ex.Errors);
        Assert.Equal("", error.Path);
        Assert.Equal("malformed YAML: While parsing a block mapping, did not find expected key.", error.Message);
        Assert.Equal(4, error.Line);
        Assert.Equal("invalid job spec test.yaml: 1 error\n  malformed YAML: While parsing a block mapping, did not find expected key. (line 4)", ex.Message);
    }

    [Fact]
    public void Unterminated_quote_reports_where_the_scalar_starts()
    {
        var error = FailsOnce("name: demo\nmodel: \"abc\n");
        Assert.StartsWith("malformed YAML: While scanning a quoted scalar", error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Unclosed_flow_sequence_is_malformed_yaml_not_a_crash()
    {
        // YamlDotNet throws InvalidOperationException here rather than a YamlException.
        var error = FailsOnce("""
            name: demo
            training:
              epochs: [1, 2
            model: x
            """);
        Assert.StartsWith("malformed YAML", error.Message);
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Tab_indentation_is_malformed_yaml()
    {
        var error = FailsOnce("name: demo\ntraining:\n\tepochs: 3\n");
        Assert.Equal("malformed YAML: While scanning a mapping, found invalid tab as indentation.", error.Message);
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Duplicate_key_is_reported_with_line()
    {
        var error = FailsOnce("""
            name: demo
            name: other
            """);
        Assert.Contains("malformed YAML", error.Message);
        Assert.Equal(2, error.Line);
    }

    [Theory]
    [InlineData("- a\n- b", "a list")]
    [InlineData("just-a-string", "'just-a-string'")]
    public void Top_level_must_be_a_mapping(string yaml, string got)
    {
        var error = FailsOnce(yaml);
        Assert.Equal("", error.Path);
        Assert.Equal($"the top level must be a mapping of fields, got {got}", error.Message);
        Assert.Equal(1, error.Line);
    }

    [Fact]
    public void Several_documents_are_rejected()
    {
        var error = FailsOnce("name: a\n---\nname: b\n");
        Assert.Equal("expected a single YAML document, found several", error.Message);
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Empty_file_only_lacks_the_name()
    {
        Assert.Equal("name: is required", FailsOnce("").ToString());
        Assert.Equal("name: is required", FailsOnce("# nothing but a comment\n").ToString());
    }

    [Fact]
    public void Unknown_key_suggests_the_closest_known_key()
    {
        var error = FailsOnce("""
            name: demo
            training:
              epoch: 3
            """);
        Assert.Equal("training.epoch", error.Path);
        Assert.Equal("unknown field; did you mean 'epochs'?", error.Message);
        Assert.Equal(3, error.Line);
        Assert.Equal("training.epoch: unknown field; did you mean 'epochs'? (line 3)", error.ToString());
    }

    [Fact]
    public void Unknown_key_far_from_any_known_key_has_no_suggestion()
    {
        var error = FailsOnce("""
            name: demo
            banana: 3
            """);
        Assert.Equal("banana: unknown field (line 2)", error.ToString());
    }

    [Fact]
    public void Unknown_key_inside_flow_mapping_reports_its_line()
    {
        var error = FailsOnce("""
            name: demo

            model: { kind: cnn, widht: 3 }
            """);
        Assert.Equal("model.widht: unknown field; did you mean 'width'? (line 3)", error.ToString());
    }

    [Theory]
    [InlineData("training:\n  epochs: five", "training.epochs", "expected an integer, got 'five'", 3)]
    [InlineData("training:\n  epochs: 2.5", "training.epochs", "expected an integer, got '2.5'", 3)]
    [InlineData("training:\n  epochs:", "training.epochs", "expected an integer, got nothing", 3)]
    [InlineData("training:\n  epochs: [1]", "training.epochs", "expected an integer, got a list", 3)]
    [InlineData("training:\n  seed: x1", "training.seed", "expected an integer, got 'x1'", 3)]
    [InlineData("training:\n  optimizer:\n    lr: fast", "training.optimizer.lr", "expected a number, got 'fast'", 4)]
    [InlineData("training:\n  optimizer:\n    lr: .nan", "training.optimizer.lr", "expected a number, got '.nan'", 4)]
    [InlineData("data:\n  augment:\n    flip: yes", "data.augment.flip", "expected true or false, got 'yes'", 4)]
    [InlineData("data:\n  root: {a: 1}", "data.root", "expected a string, got a mapping", 3)]
    [InlineData("model: cnn", "model", "expected a mapping, got 'cnn'", 2)]
    [InlineData("name: [a]", "name", "expected a string, got a list", 1)]
    public void Wrong_type_is_reported_with_path_and_line(string body, string path, string message, int line)
    {
        var yaml = body.StartsWith("name:", StringComparison.Ordinal) ? body : "name: demo\n" + body;
        var error = FailsOnce(yaml);
        Assert.Equal(path, error.Path);
        Assert.Equal(message, error.Message);
        Assert.Equal(line, error.Line);
    }

    [Theory]
    [InlineData("training:\n  epochs: 99999999999999", "training.epochs", "99999999999999 is out of range: this field holds at most 2147483647", 3)]
    [InlineData("training:\n  epochs: 2147483648", "training.epochs", "2147483648 is out of range: this field holds at most 2147483647", 3)]
    [InlineData("training:\n  threads: -2147483649", "training.threads", "-2147483649 is out of range: this field holds at least -2147483648", 3)]
    [InlineData("training:\n  seed: 99999999999999999999", "training.seed", "99999999999999999999 is out of range: this field holds at most 9223372036854775807", 3)]
    [InlineData("training:\n  optimizer:\n    lr: 1e999", "training.optimizer.lr", "1e999 is out of range: this field holds at most 1.8E+308", 4)]
    [InlineData("training:\n  mixed_size:\n    sizes: [20,\n      99999999999]", "training.mixed_size.sizes[1]", "99999999999 is out of range: this field holds at most 2147483647", 5)]
    public void Number_too_large_for_its_field_is_out_of_range_with_path_and_line(string body, string path, string message, int line)
    {
        var error = FailsOnce("name: demo\n" + body);
        Assert.Equal(path, error.Path);
        Assert.Equal(message, error.Message);
        Assert.Equal(line, error.Line);
    }

    [Fact]
    public void Largest_value_of_the_fields_type_is_not_out_of_range()
    {
        // The range check reports what the type cannot hold; 2147483647 itself is an int (and a valid epoch count).
        var spec = JobSpecLoader.Parse("name: demo\ntraining: { epochs: 2147483647 }", "spec.yaml", []);
        Assert.Equal(int.MaxValue, spec.Training.Epochs);
    }

    [Theory]
    [InlineData("model: { width: 0 }", "model.width", "must be >= 1")]
    [InlineData("data: { train_subset: -1 }", "data.train_subset", "must be >= 0")]
    [InlineData("data: { test_subset: -1 }", "data.test_subset", "must be >= 0")]
    [InlineData("data: { augment: { crop_padding: -2 } }", "data.augment.crop_padding", "must be >= 0")]
    [InlineData("data: { augment: { cutout: -1 } }", "data.augment.cutout", "must be >= 0")]
    [InlineData("training: { epochs: 0 }", "training.epochs", "must be >= 1")]
    [InlineData("training: { global_batch: 0 }", "training.global_batch", "must be >= 1")]
    [InlineData("training: { threads: -1 }", "training.threads", "must be >= 0")]
    [InlineData("training: { optimizer: { lr: 0 } }", "training.optimizer.lr", "must be > 0")]
    [InlineData("training: { optimizer: { momentum: 1 } }", "training.optimizer.momentum", "must be >= 0 and < 1")]
    [InlineData("training: { optimizer: { momentum: -0.1 } }", "training.optimizer.momentum", "must be >= 0 and < 1")]
    [InlineData("training: { optimizer: { weight_decay: -1e-4 } }", "training.optimizer.weight_decay", "must be >= 0")]
    [InlineData("training: { optimizer: { momentum: 0, nesterov: true } }", "training.optimizer.nesterov", "requires momentum > 0")]
    [InlineData("checkpoint: { every_steps: -1 }", "checkpoint.every_steps", "must be >= 0")]
    [InlineData("checkpoint: { keep: 0 }", "checkpoint.keep", "must be >= 1")]
    public void Out_of_range_values_are_reported_at_their_line(string body, string path, string message)
    {
        var error = FailsOnce("name: demo\n\n" + body);
        Assert.Equal(path, error.Path);
        Assert.Equal(message, error.Message);
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Range_error_format_matches_the_documented_form()
    {
        var error = FailsOnce("""
            name: demo
            training:
              global_batch: 0
            """);
        Assert.Equal("training.global_batch: must be >= 1 (line 3)", error.ToString());
    }

    [Theory]
    [InlineData("device: gpu", "device", "must be one of auto, cpu, cuda; got 'gpu'")]
    [InlineData("model: { kind: vgg }", "model.kind", "must be one of mlp, cnn, resnet20, resnet44; got 'vgg'")]
    [InlineData("model: { norm: layer }", "model.norm", "must be one of batch, ghost_batch, none, range_batch; got 'layer'")]
    [InlineData("data: { dataset: imagenet }", "data.dataset", "must be one of fashion-mnist, mnist-idx, cifar10, synthetic; got 'imagenet'")]
    [InlineData("training: { optimizer: { kind: adam } }", "training.optimizer.kind", "must be one of sgd; got 'adam'")]
    [InlineData("device: CUDA", "device", "must be one of auto, cpu, cuda; got 'CUDA'")]
    public void Bad_enum_values_list_the_allowed_ones(string body, string path, string message)
    {
        var error = FailsOnce("name: demo\n" + body);
        Assert.Equal(path, error.Path);
        Assert.Equal(message, error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Device_values_bind_to_the_enum()
    {
        Assert.Equal(DeviceKind.Cpu, Parse("name: a\ndevice: cpu").Device);
        Assert.Equal(DeviceKind.Cuda, Parse("name: a\ndevice: cuda").Device);
        Assert.Equal(DeviceKind.Auto, Parse("name: a\ndevice: auto").Device);
    }

    [Fact]
    public void Missing_name_has_no_location()
    {
        var error = FailsOnce("device: cpu");
        Assert.Equal(new SpecError("name", "is required", null), error);
        Assert.Equal("name: is required", error.ToString());
    }

    [Theory]
    [InlineData("Fmnist")]
    [InlineData("fmnist_cnn")]
    [InlineData("-fmnist")]
    [InlineData("fmnist-")]
    [InlineData("fm.nist")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 64 characters
    public void Invalid_dns_name_is_rejected(string name)
    {
        var error = FailsOnce($"device: cpu\nname: \"{name}\"");
        Assert.Equal("name", error.Path);
        Assert.StartsWith("must be a DNS-1123 label", error.Message);
        Assert.EndsWith($"got '{name}'", error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Empty_quoted_name_counts_as_missing()
    {
        Assert.Equal("name: is required (line 1)", FailsOnce("name: \"\"").ToString());
    }

    [Fact]
    public void All_errors_are_reported_at_once_in_file_order()
    {
        var ex = Fails("""
            device: gpu
            model: { kind: cnn, width: 0 }
            training:
              epoch: 3
              global_batch: many
              optimizer: { lr: -1 }
            checkpoint: { keep: 0 }
            """);

        Assert.Equal(
            [
                "device: must be one of auto, cpu, cuda; got 'gpu' (line 1)",
                "model.width: must be >= 1 (line 2)",
                "training.epoch: unknown field; did you mean 'epochs'? (line 4)",
                "training.global_batch: expected an integer, got 'many' (line 5)",
                "training.optimizer.lr: must be > 0 (line 6)",
                "checkpoint.keep: must be >= 1 (line 7)",
                "name: is required",
            ],
            ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Exception_message_names_the_source_and_lists_every_error()
    {
        var ex = Assert.Throws<SpecException>(() => JobSpecLoader.Parse("model: { width: 0 }", "jobs/demo.yaml", []));

        Assert.Equal(
            "invalid job spec jobs/demo.yaml: 2 errors\n" +
            "  model.width: must be >= 1 (line 1)\n" +
            "  name: is required",
            ex.Message);
        Assert.Equal("jobs/demo.yaml", ex.SourceName);
        Assert.IsAssignableFrom<UserFacingException>(ex);
    }

    [Fact]
    public void Type_error_does_not_also_produce_a_range_error_for_the_same_field()
    {
        var ex = Fails("name: demo\ntraining: { epochs: -x }");
        Assert.Equal("training.epochs", Assert.Single(ex.Errors).Path);
    }

    [Fact]
    public void LoadFile_reads_the_file_and_names_it_in_errors()
    {
        var dir = Directory.CreateTempSubdirectory("spec-tests-");
        try
        {
            var good = Path.Combine(dir.FullName, "good.yaml");
            File.WriteAllText(good, FullYaml);
            Assert.Equal(Full, JobSpecLoader.LoadFile(good, []));
            Assert.Equal(Full with { Training = Full.Training with { Epochs = 9 } },
                JobSpecLoader.LoadFile(good, ["training.epochs=9"]));

            var bad = Path.Combine(dir.FullName, "bad.yaml");
            File.WriteAllText(bad, "name: Bad");
            var ex = Assert.Throws<SpecException>(() => JobSpecLoader.LoadFile(bad, []));
            Assert.Contains(bad, ex.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void LoadFile_of_missing_file_is_a_user_facing_error_naming_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-such-spec-{Guid.NewGuid():N}.yaml");
        var ex = Assert.Throws<UserFacingException>(() => JobSpecLoader.LoadFile(path, []));
        Assert.Contains(path, ex.Message);
    }
}
