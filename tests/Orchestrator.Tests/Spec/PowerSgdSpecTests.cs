using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary><c>compression.codec: powersgd</c> and its <c>compression.rank</c>: binding, defaults, round trip and the rules.</summary>
public sealed class PowerSgdSpecTests
{
    [Fact]
    public void Powersgd_binds_its_rank_and_defaults_to_mpi_with_error_feedback()
    {
        var spec = Parse("name: demo\ncompression: { codec: powersgd, rank: 4 }");

        Assert.Equal(CompressionSpec.Default with { Codec = CodecKind.PowerSgd, Rank = 4, Algorithm = AllreduceKind.Mpi, ErrorFeedback = true },
            spec.Compression);
        Assert.Equal("powersgd r4", spec.CompressionOrDefault.CodecLabel);
        // Left out: rank 2; error feedback may be turned off explicitly (an ablation).
        Assert.Equal(2, Parse("name: demo\ncompression: { codec: powersgd }").CompressionOrDefault.Rank);
        Assert.False(Parse("name: demo\ncompression: { codec: powersgd, error_feedback: false }").CompressionOrDefault.ErrorFeedback);
        // Other codecs keep error feedback off unless asked for.
        Assert.False(Parse("name: demo\ncompression: { codec: int8 }").CompressionOrDefault.ErrorFeedback);
    }

    public static TheoryData<JobSpec> RoundTripSpecs => new()
    {
        Parse("name: demo\ncompression: { codec: powersgd, rank: 3, warmup_steps: 5, overlap: false }"),
        Parse("name: demo\ncompression: { codec: powersgd, rank: 64, error_feedback: false }"),
        Parse("name: demo\ncompression: { codec: powersgd, rank: 1, algorithm: mpi }"),
        // rank stays (unchecked) under another codec, as n and m do.
        Full with { Compression = CompressionSpec.Default with { Codec = CodecKind.Int8, Algorithm = AllreduceKind.Ring, Rank = 0 } },
    };

    [Theory]
    [MemberData(nameof(RoundTripSpecs))]
    public void ToYaml_round_trips_powersgd_and_its_rank(JobSpec spec)
    {
        Assert.Empty(JobSpecValidator.Validate(spec));
        var yaml = JobSpecYaml.ToYaml(spec);
        Assert.Contains($"  rank: {spec.CompressionOrDefault.Rank}\n", yaml.ReplaceLineEndings("\n"));
        Assert.Equal(spec, Parse(yaml));
    }

    [Theory]
    [InlineData("compression: { codec: powersgd, rank: 0 }", "compression.rank: must be >= 1 and <= 64 (the approximation rank of powersgd) (line 2)")]
    [InlineData("compression: { codec: powersgd, rank: 65 }", "compression.rank: must be >= 1 and <= 64 (the approximation rank of powersgd) (line 2)")]
    [InlineData("compression: { codec: powersgd, rank: -2 }", "compression.rank: must be >= 1 and <= 64 (the approximation rank of powersgd) (line 2)")]
    [InlineData("compression:\n  codec: powersgd\n  algorithm: ring",
        "compression.algorithm: powersgd requires algorithm mpi, got ring: its low-rank factors travel as fp32 sums through MPI_Allreduce (leave algorithm out, or write mpi) (line 4)")]
    [InlineData("compression: { algorithm: allgather, codec: powersgd }",
        "compression.algorithm: powersgd requires algorithm mpi, got allgather: its low-rank factors travel as fp32 sums through MPI_Allreduce (leave algorithm out, or write mpi) (line 2)")]
    public void Bad_rank_and_algorithm_are_errors_naming_the_field(string body, string expected)
    {
        var ex = Fails("name: demo\n" + body);
        Assert.Equal([expected], ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void A_rank_that_is_not_an_integer_is_a_type_error_naming_the_field()
    {
        var error = FailsOnce("name: demo\ncompression: { codec: powersgd, rank: 2.5 }");
        Assert.StartsWith("compression.rank:", error.ToString());
        Assert.Contains("integer", error.ToString());
        Assert.StartsWith("compression.rank:", FailsOnce("name: demo\ncompression: { codec: powersgd, rank: two }").ToString());
    }

    [Fact]
    public void A_bad_rank_by_override_is_reported_at_the_override()
    {
        var error = FailsOnce("name: demo\ncompression: { codec: powersgd }", "compression.rank=100");
        Assert.Equal("compression.rank: must be >= 1 and <= 64 (the approximation rank of powersgd) (--set)", error.ToString());
    }

    [Fact]
    public void The_rank_is_not_checked_under_another_codec()
    {
        Assert.Equal(0, Parse("name: demo\ncompression: { codec: int8, rank: 0 }").CompressionOrDefault.Rank);
    }
}
