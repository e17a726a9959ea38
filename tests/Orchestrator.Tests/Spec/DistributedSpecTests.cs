using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary>The data-parallel keys: top-level workers and the compression section.</summary>
public class DistributedSpecTests
{
    /// <summary>The documented example; comments give line numbers.</summary>
    private const string ExampleYaml = """
        name: distributed
        workers: 2
        compression: { codec: nm+int8, n: 2, m: 4, pruner: mvue, algorithm: ring, bucket_mb: 25,
                       warmup_steps: 0, error_feedback: false, min_compress_elements: 1024 }
        """;

    /// <summary>Every compression key differs from its default; one key a line (line 1 is name, 2 workers).</summary>
    private const string BlockYaml = """
        name: distributed
        workers: 8
        compression:
          codec: nm
          n: 1
          m: 8
          pruner: greedy
          algorithm: allgather
          bucket_mb: 12.5
          warmup_steps: 100
          error_feedback: true
          min_compress_elements: 4096
          overlap: false
        training: { global_batch: 512 }
        """;

    private static readonly CompressionSpec BlockCompression = new(CodecKind.Nm, 1, 8, PrunerKind.Greedy, AllreduceKind.Allgather, 12.5, 100, true, 4096, Overlap: false);

    [Fact]
    public void Documented_example_binds_every_field()
    {
        var spec = Parse(ExampleYaml);

        Assert.Equal(2, spec.Workers);
        var compression = Assert.IsType<CompressionSpec>(spec.Compression);
        Assert.Equal(CodecKind.NmInt8, compression.Codec);
        Assert.Equal(2, compression.N);
        Assert.Equal(4, compression.M);
        Assert.Equal(PrunerKind.Mvue, compression.Pruner);
        Assert.Equal(AllreduceKind.Ring, compression.Algorithm);
        Assert.Equal(25, compression.BucketMb);
        Assert.Equal(0, compression.WarmupSteps);
        Assert.False(compression.ErrorFeedback);
        Assert.Equal(1024, compression.MinCompressElements);
        Assert.True(compression.Overlap);
        Assert.Equal(CompressionSpec.Default with { Codec = CodecKind.NmInt8, Algorithm = AllreduceKind.Ring }, compression);
        Assert.Same(compression, spec.CompressionOrDefault);
        // Keys not in the example keep their defaults.
        Assert.Equal(JobSpecDefaults.Training, spec.Training);
    }

    [Fact]
    public void Block_section_binds_every_non_default_value()
    {
        var spec = Parse(BlockYaml);

        Assert.Equal(8, spec.Workers);
        Assert.Equal(BlockCompression, spec.Compression);
        Assert.Equal(512, spec.Training.GlobalBatch);
    }

    [Fact]
    public void Absent_keys_take_their_defaults()
    {
        var spec = Parse("name: demo");

        Assert.Equal(1, spec.Workers);
        Assert.Equal(JobSpecDefaults.Workers, spec.Workers);
        Assert.Null(spec.Compression);
        Assert.Equal(CompressionSpec.Default, spec.CompressionOrDefault);
        Assert.Equal(new CompressionSpec(CodecKind.None, 2, 4, PrunerKind.Mvue, AllreduceKind.Mpi, 25, 0, false, 1024), CompressionSpec.Default);
        Assert.Equal(CompressionSpec.Default, JobSpecDefaults.Compression);
    }

    [Fact]
    public void Empty_or_partial_sections_take_their_defaults()
    {
        Assert.Equal(CompressionSpec.Default, Parse("name: demo\ncompression:").Compression);
        Assert.Equal(CompressionSpec.Default, Parse("name: demo\ncompression: {}").Compression);
        Assert.Equal(CompressionSpec.Default with { Codec = CodecKind.Int8, Algorithm = AllreduceKind.Ring, ErrorFeedback = true },
            Parse("name: demo\ncompression: { codec: int8, error_feedback: true }").Compression);
    }

    [Fact]
    public void The_default_algorithm_depends_on_the_codec_and_a_written_one_is_kept()
    {
        // Uncompressed gradients go through MPICH's allreduce unless the spec asks for ring or allgather.
        Assert.Equal(AllreduceKind.Mpi, Parse("name: demo\ncompression: { codec: none }").Compression!.Algorithm);
        foreach (var codec in new[] { "int8", "nm", "nm+int8" })
            Assert.Equal(AllreduceKind.Ring, Parse($"name: demo\ncompression: {{ codec: {codec} }}").Compression!.Algorithm);
        foreach (var algorithm in new[] { "ring", "allgather", "mpi" })
            Assert.Equal(algorithm, Parse($"name: demo\ncompression: {{ codec: none, algorithm: {algorithm} }}").Compression!.Algorithm.SpecName());
        // The default follows the codec after --set: a file that leaves the algorithm out cannot end up with mpi + int8.
        Assert.Equal(AllreduceKind.Ring, Parse("name: demo\ncompression: { codec: none }", "compression.codec=int8").Compression!.Algorithm);
        Assert.Equal(AllreduceKind.Mpi, Parse("name: demo\ncompression: { codec: int8 }", "compression.codec=none").Compression!.Algorithm);
    }

    [Fact]
    public void N_and_m_are_not_checked_when_the_codec_does_not_prune()
    {
        var spec = Parse("name: demo\ncompression: { codec: int8, n: 0, m: 99 }");
        Assert.Equal(CompressionSpec.Default with { Codec = CodecKind.Int8, Algorithm = AllreduceKind.Ring, N = 0, M = 99 }, spec.Compression);

        var none = Parse("name: demo\ncompression: { n: 4, m: 4, algorithm: mpi }");
        Assert.Equal(CompressionSpec.Default with { N = 4, M = 4, Algorithm = AllreduceKind.Mpi }, none.Compression);
    }

    [Fact]
    public void Workers_that_split_the_batches_evenly_are_accepted()
    {
        var spec = Parse("""
            name: demo
            workers: 4
            model: { kind: resnet20, norm: ghost_batch }
            training: { global_batch: 256, ghost_batch: 32 }
            compression: { codec: nm, n: 1, m: 16, bucket_mb: 1024, min_compress_elements: 0 }
            """);
        Assert.Equal(4, spec.Workers);
        Assert.Equal(CompressionSpec.Default with { Codec = CodecKind.Nm, Algorithm = AllreduceKind.Ring, N = 1, M = 16, BucketMb = 1024, MinCompressElements = 0 },
            spec.Compression);

        Assert.Equal(1024, Parse("name: demo\nworkers: 1024\ntraining: { global_batch: 2048 }").Workers);
    }

    [Theory]
    // Workers.
    [InlineData("workers: 0", "workers: must be >= 1 and <= 1024 (line 2)")]
    [InlineData("workers: -2", "workers: must be >= 1 and <= 1024 (line 2)")]
    [InlineData("workers: 1025", "workers: must be >= 1 and <= 1024 (line 2)")]
    [InlineData("workers: two", "workers: expected an integer, got 'two' (line 2)")]
    [InlineData("worker: 2", "worker: unknown field; did you mean 'workers'? (line 2)")]
    // Workers against the batch sizes.
    [InlineData("workers: 3\ntraining: { global_batch: 256 }",
        "training.global_batch: must be a multiple of workers (3): each worker takes an equal share (line 3)")]
    [InlineData("workers: 3", // default global batch (256)
        "training.global_batch: must be a multiple of workers (3): each worker takes an equal share")]
    [InlineData("workers: 2\nmodel: { norm: ghost_batch }\ntraining:\n  global_batch: 192\n  ghost_batch: 64",
        "training.ghost_batch: must divide the per-worker batch global_batch/workers = 96 (line 6)")]
    [InlineData("workers: 4\nmodel: { norm: ghost_batch }\ntraining:\n  global_batch: 256\n  ghost_batch: 128",
        "training.ghost_batch: must divide the per-worker batch global_batch/workers = 64 (line 6)")]
    // An uneven split is reported once; the ghost batch is not also held against a fractional share.
    [InlineData("workers: 5\nmodel: { norm: ghost_batch }\ntraining: { global_batch: 256, ghost_batch: 64 }",
        "training.global_batch: must be a multiple of workers (5): each worker takes an equal share (line 4)")]
    // A bad worker count or batch is reported on its own, not as a bad split.
    [InlineData("workers: 0\ntraining: { global_batch: 255 }", "workers: must be >= 1 and <= 1024 (line 2)")]
    [InlineData("workers: 3\ntraining: { global_batch: 0 }", "training.global_batch: must be >= 1 (line 3)")]
    // One worker keeps the single-process ghost batch rule.
    [InlineData("workers: 1\nmodel: { norm: ghost_batch }\ntraining:\n  global_batch: 1000\n  ghost_batch: 128",
        "training.global_batch: must be a positive multiple of training.ghost_batch (line 5)")]
    // Choices.
    [InlineData("compression: { codec: zstd }", "compression.codec: must be one of none, int8, nm, nm+int8, powersgd; got 'zstd' (line 2)")]
    [InlineData("compression: { pruner: topk }", "compression.pruner: must be one of mvue, greedy; got 'topk' (line 2)")]
    [InlineData("compression: { algorithm: nccl }", "compression.algorithm: must be one of ring, allgather, mpi; got 'nccl' (line 2)")]
    [InlineData("compression: ring", "compression: expected a mapping, got 'ring' (line 2)")]
    [InlineData("compression: { bucket_md: 25 }", "compression.bucket_md: unknown field; did you mean 'bucket_mb'? (line 2)")]
    [InlineData("compression: { error_feedback: 1 }", "compression.error_feedback: expected true or false, got '1' (line 2)")]
    // N:M.
    [InlineData("compression: { codec: nm, n: 0 }", "compression.n: must be >= 1 (line 2)")]
    [InlineData("compression:\n  codec: nm+int8\n  m: 1", "compression.m: must be >= 2 and <= 16 (line 4)")]
    [InlineData("compression:\n  codec: nm\n  n: 2\n  m: 32", "compression.m: must be >= 2 and <= 16 (line 5)")]
    [InlineData("compression:\n  codec: nm\n  n: 4\n  m: 4",
        "compression.n: must be < compression.m (4): N:M keeps n of every m values (line 4)")]
    [InlineData("compression:\n  codec: nm+int8\n  n: 5", // default m (4)
        "compression.n: must be < compression.m (4): N:M keeps n of every m values (line 4)")]
    [InlineData("compression:\n  codec: nm\n  m: 2", // default n (2): the m written is what is wrong
        "compression.m: must be > compression.n (2): N:M keeps n of every m values (line 4)")]
    // mpi carries plain fp32 only.
    [InlineData("compression:\n  codec: int8\n  algorithm: mpi",
        "compression.algorithm: mpi requires codec none or powersgd, got int8: plain fp32 MPI_Allreduce cannot carry encoded gradients; use ring or allgather (line 4)")]
    [InlineData("compression: { algorithm: mpi, codec: nm+int8 }",
        "compression.algorithm: mpi requires codec none or powersgd, got nm+int8: plain fp32 MPI_Allreduce cannot carry encoded gradients; use ring or allgather (line 2)")]
    // Sizes and counts.
    [InlineData("compression: { bucket_mb: 0 }", "compression.bucket_mb: must be > 0 and <= 1024 (line 2)")]
    [InlineData("compression: { bucket_mb: -1.5 }", "compression.bucket_mb: must be > 0 and <= 1024 (line 2)")]
    [InlineData("compression: { bucket_mb: 1024.5 }", "compression.bucket_mb: must be > 0 and <= 1024 (line 2)")]
    [InlineData("compression: { warmup_steps: -1 }", "compression.warmup_steps: must be >= 0 (line 2)")]
    [InlineData("compression: { min_compress_elements: -1 }", "compression.min_compress_elements: must be >= 0 (line 2)")]
    // The next forward's overlap builds on the backward's and applies updates bucket by bucket.
    [InlineData("compression: { overlap: false, overlap_forward: true }",
        "compression.overlap_forward: requires compression.overlap: true (the backward's overlap comes first) (line 2)")]
    [InlineData("training: { regime: { grad_clip_norm: 1 } }\ncompression: { overlap_forward: true }",
        "compression.overlap_forward: cannot be used with training.regime.grad_clip_norm: clipping needs the norm of every averaged gradient before any update (line 3)")]
    [InlineData("compression: { codec: powersgd, overlap_forward: true }",
        "compression.overlap_forward: cannot be used with codec powersgd: its low-rank factors need a bucket whole, not in pieces (line 2)")]
    [InlineData("compression: { overlap_forward: 1 }", "compression.overlap_forward: expected true or false, got '1' (line 2)")]
    public void Rule_is_reported_with_path_and_line(string body, params string[] expected)
    {
        var ex = Fails("name: demo\n" + body);
        Assert.Equal(expected, ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void All_errors_are_reported_at_once()
    {
        var ex = Fails("""
            name: demo
            workers: 3
            model: { kind: resnet20, norm: ghost_batch }
            training: { global_batch: 512, ghost_batch: 64 }
            compression:
              codec: nm+int8
              n: 0
              m: 17
              pruner: greedy
              algorithm: mpi
              bucket_mb: 0
              warmup_steps: -5
              error_feedback: maybe
              min_compress_elements: -1
            """);

        Assert.Equal(
            [
                "training.global_batch: must be a multiple of workers (3): each worker takes an equal share (line 4)",
                "compression.n: must be >= 1 (line 7)",
                "compression.m: must be >= 2 and <= 16 (line 8)",
                "compression.algorithm: mpi requires codec none or powersgd, got nm+int8: plain fp32 MPI_Allreduce cannot carry encoded gradients; use ring or allgather (line 10)",
                "compression.bucket_mb: must be > 0 and <= 1024 (line 11)",
                "compression.warmup_steps: must be >= 0 (line 12)",
                "compression.error_feedback: expected true or false, got 'maybe' (line 13)",
                "compression.min_compress_elements: must be >= 0 (line 14)",
            ],
            ex.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Set_workers_overrides_the_file()
    {
        var spec = Parse(ExampleYaml, "workers=4");
        Assert.Equal(4, spec.Workers);
        Assert.Equal(Parse(ExampleYaml).Compression, spec.Compression);

        Assert.Equal(4, Parse("name: demo", "workers=4").Workers);

        Assert.Equal("workers: must be >= 1 and <= 1024 (--set)", FailsOnce(ExampleYaml, "workers=0").ToString());
        // The file's global batch no longer splits evenly: the error points at the batch in the file.
        Assert.Equal("training.global_batch: must be a multiple of workers (3): each worker takes an equal share (line 14)",
            FailsOnce(BlockYaml, "workers=3").ToString());
    }

    [Fact]
    public void Set_codec_changes_only_that_field()
    {
        var spec = Parse(BlockYaml, "compression.codec=int8");
        Assert.Equal(BlockCompression with { Codec = CodecKind.Int8 }, spec.Compression);

        // Without a compression section in the file the override creates one with defaults.
        var created = Parse("name: demo", "compression.codec=int8");
        Assert.Equal(CompressionSpec.Default with { Codec = CodecKind.Int8, Algorithm = AllreduceKind.Ring }, created.Compression);

        Assert.Equal("compression.codec: must be one of none, int8, nm, nm+int8, powersgd; got 'lz4' (--set)",
            FailsOnce("name: demo", "compression.codec=lz4").ToString());
        // The file asks for mpi; a compressing codec from --set is blamed on the algorithm in the file.
        Assert.Equal(
            "compression.algorithm: mpi requires codec none or powersgd, got int8: plain fp32 MPI_Allreduce cannot carry encoded gradients; use ring or allgather (line 2)",
            FailsOnce("name: demo\ncompression: { algorithm: mpi }", "compression.codec=int8").ToString());
    }

    [Fact]
    public void Set_compression_replaces_the_whole_section()
    {
        var spec = Parse(BlockYaml, "compression={codec: nm, n: 1, m: 2}");
        Assert.Equal(new CompressionSpec(CodecKind.Nm, 1, 2, PrunerKind.Mvue, AllreduceKind.Ring, 25, 0, false, 1024), spec.Compression);

        var created = Parse("name: demo", "compression={codec: nm, n: 1, m: 2}");
        Assert.Equal(spec.Compression, created.Compression);

        var ex = Fails(BlockYaml, "compression={codec: nm, n: 3, m: 2, algorithm: mpi}");
        Assert.Equal(
            [
                "compression.n: must be < compression.m (2): N:M keeps n of every m values (--set)",
                "compression.algorithm: mpi requires codec none or powersgd, got nm: plain fp32 MPI_Allreduce cannot carry encoded gradients; use ring or allgather (--set)",
            ],
            ex.Errors.Select(e => e.ToString()));
    }

    public static TheoryData<JobSpec> RoundTripSpecs => new()
    {
        Parse(ExampleYaml),
        Parse(BlockYaml),
        Full with { Workers = 4, Compression = CompressionSpec.Default },
        Full with { Workers = 2, Compression = BlockCompression with { BucketMb = 1.0 / 3, Algorithm = AllreduceKind.Ring } },
        // A codec that does not prune keeps (unchecked) n and m; mpi with plain fp32.
        Full with { Compression = CompressionSpec.Default with { N = 0, M = 1, Algorithm = AllreduceKind.Mpi } },
        Full with { Workers = 128, Training = Full.Training with { GlobalBatch = 1024 } },
    };

    [Theory]
    [MemberData(nameof(RoundTripSpecs))]
    public void ToYaml_round_trips_workers_and_compression(JobSpec spec)
    {
        Assert.Empty(JobSpecValidator.Validate(spec));
        Assert.Equal(spec, Parse(JobSpecYaml.ToYaml(spec)));
    }

    [Fact]
    public void ToYaml_writes_workers_always_and_compression_when_present()
    {
        var yaml = JobSpecYaml.ToYaml(Full with { Workers = 2, Compression = BlockCompression });
        Assert.StartsWith("""
            name: fmnist-cnn
            device: cuda
            workers: 2
            compression:
              codec: nm
              n: 1
              m: 8
              pruner: greedy
              algorithm: allgather
              bucket_mb: 12.5
              warmup_steps: 100
              error_feedback: true
              min_compress_elements: 4096
              overlap: false
              overlap_forward: false
              rank: 2
            model:
            """.ReplaceLineEndings("\n"), yaml);

        var plain = JobSpecYaml.ToYaml(Full);
        Assert.Contains("workers: 1\n", plain);
        Assert.DoesNotContain("compression", plain);
        Assert.Contains("codec: nm+int8\n", JobSpecYaml.ToYaml(Parse(ExampleYaml)));
    }

    [Fact]
    public void Specs_built_in_code_get_the_same_rules()
    {
        var spec = Full with
        {
            Workers = 3, // Full's global batch is 128
            Compression = new CompressionSpec((CodecKind)9, 9, 4, (PrunerKind)7, AllreduceKind.Mpi, double.NaN, -1, false, -1),
        };

        Assert.Equal(
            [
                "training.global_batch: must be a multiple of workers (3): each worker takes an equal share",
                "compression.codec: must be one of none, int8, nm, nm+int8, powersgd; got '9'",
                "compression.pruner: must be one of mvue, greedy; got '7'",
                "compression.bucket_mb: must be > 0 and <= 1024",
                "compression.warmup_steps: must be >= 0",
                "compression.min_compress_elements: must be >= 0",
            ],
            JobSpecValidator.Validate(spec).Select(e => e.ToString()));

        Assert.Equal(
            [
                "workers: must be >= 1 and <= 1024",
                "compression.n: must be < compression.m (4): N:M keeps n of every m values",
                "compression.algorithm: mpi requires codec none or powersgd, got nm: plain fp32 MPI_Allreduce cannot carry encoded gradients; use ring or allgather",
            ],
            JobSpecValidator.Validate(Full with
            {
                Workers = 0,
                Compression = CompressionSpec.Default with { Codec = CodecKind.Nm, N = 9, Algorithm = AllreduceKind.Mpi },
            }).Select(e => e.ToString()));
    }
}
