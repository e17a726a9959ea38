using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;

namespace Orchestrator.Tests.Spec;

/// <summary>The one name table of the choices, and the rules the validator and the lower layers share.</summary>
public sealed class SpecChoiceTests
{
    [Fact]
    public void Every_choice_lists_its_yaml_names_in_order_and_parses_them_back()
    {
        Assert.Equal(["none", "int8", "nm", "nm+int8", "powersgd"], SpecChoice.Names<CodecKind>(SpecNames.SpecName));
        Assert.Equal(["mvue", "greedy"], SpecChoice.Names<PrunerKind>(SpecNames.SpecName));
        Assert.Equal(["ring", "allgather", "mpi"], SpecChoice.Names<AllreduceKind>(SpecNames.SpecName));
        Assert.Equal(["mlp", "cnn", "resnet20", "resnet44"], SpecChoice.Names<ModelKind>(SpecNames.SpecName));
        Assert.Equal(["batch", "ghost_batch", "none", "range_batch"], SpecChoice.Names<NormKind>(SpecNames.SpecName));
        Assert.Equal(["linear", "hadamard"], SpecChoice.Names<ClassifierKind>(SpecNames.SpecName));
        Assert.Equal(["fashion-mnist", "mnist-idx", "cifar10", "synthetic"], SpecChoice.Names<DatasetKind>(SpecNames.SpecName));
        Assert.Equal(["sgd"], SpecChoice.Names<OptimizerKind>(SpecNames.SpecName));
        Assert.Equal(["off", "B+", "D+"], SpecChoice.Names<MixedSizeMode>(SpecNames.SpecName));
        Assert.Equal(["none", "sqrt", "linear"], SpecChoice.Names<LrScalingKind>(SpecNames.SpecName));
        Assert.Equal(["constant", "linear", "cosine", "exp"], SpecChoice.Names<ScheduleKind>(SpecNames.SpecName));
        Assert.Equal(["keep_global_batch", "keep_worker_batch"], SpecChoice.Names<ScalingPolicy>(SpecNames.SpecName));
        Assert.Equal(["auto", "cpu", "cuda"], SpecChoice.Names<DeviceKind>(SpecNames.SpecName));

        foreach (var codec in Enum.GetValues<CodecKind>())
            Assert.Equal(codec, SpecChoice.Parse<CodecKind>(codec.SpecName(), SpecNames.SpecName));
        // Case-sensitive, as YAML is.
        Assert.False(SpecChoice.TryParse("NM", SpecNames.SpecName, out CodecKind _));
        Assert.False(SpecChoice.TryParse("b+", SpecNames.SpecName, out MixedSizeMode _));
    }

    [Fact]
    public void User_input_outside_the_table_is_a_user_error_listing_the_names()
    {
        var error = Assert.Throws<UserFacingException>(() => SpecChoice.ParseUserInput<CodecKind>("--codec", "zstd", SpecNames.SpecName));
        Assert.Equal("--codec: must be one of none, int8, nm, nm+int8, powersgd; got 'zstd'", error.Message);
    }

    [Fact]
    public void Codec_labels_are_the_summary_and_codec_names()
    {
        var spec = CompressionSpec.Default with { N = 2, M = 4, Pruner = PrunerKind.Mvue };
        Assert.Equal("none", spec.CodecLabel);
        Assert.Equal("int8", (spec with { Codec = CodecKind.Int8 }).CodecLabel);
        Assert.Equal("2:4 mvue", (spec with { Codec = CodecKind.Nm }).CodecLabel);
        Assert.Equal("1:2 greedy+int8", (spec with { Codec = CodecKind.NmInt8, N = 1, M = 2, Pruner = PrunerKind.Greedy }).CodecLabel);
        Assert.Equal("powersgd r2", (spec with { Codec = CodecKind.PowerSgd }).CodecLabel);
        Assert.Equal("powersgd r4", (spec with { Codec = CodecKind.PowerSgd, Rank = 4 }).CodecLabel);
        foreach (var codec in Enum.GetValues<CodecKind>().Where(c => !c.Factorizes()))
        {
            var s = spec with { Codec = codec };
            Assert.Equal(s.CodecLabel, CodecRegistry.Create(s).Name);
            Assert.Equal(s.CodecLabel, TorchCodecRegistry.Create(s).Name);
            Assert.Equal(codec, CodecRegistry.Create(s).Kind);
        }
    }

    [Fact]
    public void Only_mpi_refuses_a_byte_codec_and_only_mpi_carries_powersgd()
    {
        foreach (var codec in Enum.GetValues<CodecKind>())
        {
            Assert.Equal(codec != CodecKind.PowerSgd, AllreduceKind.Ring.Carries(codec));
            Assert.Equal(codec != CodecKind.PowerSgd, AllreduceKind.Allgather.Carries(codec));
            Assert.Equal(codec is CodecKind.None or CodecKind.PowerSgd, AllreduceKind.Mpi.Carries(codec));
            // The default algorithm of every codec carries it.
            Assert.True(JobSpecDefaults.Algorithm(codec).Carries(codec), codec.SpecName());
        }
    }

    [Fact]
    public void Powersgd_is_no_byte_codec_and_the_registries_say_so()
    {
        var spec = CompressionSpec.Default with { Codec = CodecKind.PowerSgd, Algorithm = AllreduceKind.Mpi };
        Assert.Contains("powersgd r2", Assert.Throws<ArgumentException>(() => CodecRegistry.Create(spec)).Message);
        Assert.Contains("powersgd r2", Assert.Throws<ArgumentException>(() => TorchCodecRegistry.Create(spec)).Message);
    }

    [Theory]
    [InlineData(1, 2, true)]
    [InlineData(2, 4, true)]
    [InlineData(15, 16, true)] // m = 16 is the largest block
    [InlineData(1, 16, true)]
    [InlineData(2, 2, false)]  // n = m keeps everything: not pruning
    [InlineData(16, 16, false)]
    [InlineData(0, 4, false)]  // n = 0
    [InlineData(2, 17, false)] // m = 17
    [InlineData(1, 1, false)]
    public void One_range_rule_for_n_m_in_every_layer(int n, int m, bool valid)
    {
        Assert.Equal(valid, new NmPattern(n, m).IsValid);
        var layers = new Action[]
        {
            () => NmPattern.Check(n, m),
            () => _ = new MvuePruner(n, m),
            () => _ = new GreedyPruner(n, m),
            () => _ = new TorchNmCodec(n, m, PrunerKind.Mvue),
            () => _ = new TorchNmInt8Codec(n, m, PrunerKind.Greedy),
        };
        foreach (var layer in layers)
        {
            if (valid)
                layer();
            else
                Assert.Contains($"1 <= N < M <= 16; got {n}:{m}", Assert.Throws<ArgumentOutOfRangeException>(layer).Message);
        }
    }

    [Theory]
    [InlineData(4, 4, "compression.n: must be < compression.m (4): N:M keeps n of every m values")]
    [InlineData(16, 16, "compression.n: must be < compression.m (16): N:M keeps n of every m values")]
    [InlineData(0, 4, "compression.n: must be >= 1")]
    [InlineData(2, 17, "compression.m: must be >= 2 and <= 16")]
    [InlineData(15, 16, null)]
    public void The_validator_reports_the_same_range_per_field(int n, int m, string? expected)
    {
        var spec = SpecTestHelpers.Full with { Compression = CompressionSpec.Default with { Codec = CodecKind.Nm, N = n, M = m, Algorithm = AllreduceKind.Ring } };
        var errors = JobSpecValidator.Validate(spec).Select(e => e.ToString());
        if (expected is null)
            Assert.Empty(errors);
        else
            Assert.Equal([expected], errors);
    }

    [Fact]
    public void Mpi_allreduce_guards_itself_with_the_same_rule()
    {
        using var self = new SelfCommunicator();
        var mpi = AllreduceAlgorithms.Create(AllreduceKind.Mpi, self);
        mpi.Allreduce(new float[4], new NoneCodec(), 0, new AllreduceStats());
        var error = Assert.Throws<ArgumentException>(() => mpi.Allreduce(new float[4], new Int8Codec(), 0, new AllreduceStats()));
        Assert.Contains("needs codec none, not int8", error.Message);
    }
}
