using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// The allgather algorithm holds every rank's encoding of a bucket in one buffer; with the largest
/// <c>bucket_mb</c> (1024) and enough ranks that exceeds what one array or MPI count holds. That must be
/// the user's clear error naming a bucket size that fits, not an <see cref="OverflowException"/>.
/// </summary>
public sealed class AllgatherBufferLimitTests
{
    private const int LargestBucket = 1024 * 1024 * 1024 / sizeof(float); // bucket_mb: 1024

    [Fact]
    public void Uncompressed_1024_MB_buckets_do_not_fit_two_ranks_and_the_error_names_the_fix()
    {
        int bytes = new NoneCodec().EncodedBytes(LargestBucket);
        Assert.Equal(1L << 30, bytes);
        Assert.Equal(1 << 30, AllgatherAllreduce.GatheredBytes(bytes, 1, LargestBucket));

        var error = Assert.Throws<UserFacingException>(() => AllgatherAllreduce.GatheredBytes(bytes, 2, LargestBucket));
        Assert.Contains("compression.algorithm allgather: 2 encodings of a 1024 MB bucket take 2,147,483,648 bytes", error.Message);
        Assert.Contains("lower compression.bucket_mb to at most 1023 or use algorithm ring", error.Message);
    }

    [Fact]
    public void The_limit_follows_the_wire_size_and_the_rank_count()
    {
        // 2:4+int8 is 0.157 x fp32: 12 ranks' encodings of a 1024 MB bucket fit, 13 do not.
        int bytes = new NmInt8Codec(new MvuePruner(2, 4)).EncodedBytes(LargestBucket);
        Assert.Equal(12L * bytes, AllgatherAllreduce.GatheredBytes(bytes, 12, LargestBucket));
        var error = Assert.Throws<UserFacingException>(() => AllgatherAllreduce.GatheredBytes(bytes, 13, LargestBucket));
        // The suggested size really fits: at most 13 x its encoding.
        double suggested = double.Parse(error.Message.Split("at most ")[1].Split(' ')[0]);
        int fitting = (int)(suggested * 1024 * 1024 / sizeof(float));
        Assert.True(13L * new NmInt8Codec(new MvuePruner(2, 4)).EncodedBytes(fitting) <= Array.MaxLength, error.Message);
    }

    [Fact]
    public void Every_rank_of_an_allreduce_fails_with_the_same_clear_error_before_allocating()
    {
        var messages = InProcessWorld.Run(3, communicator =>
            Assert.Throws<UserFacingException>(() =>
                new AllgatherAllreduce(communicator).Allreduce(new float[8], new OversizedTestCodec(), 1, new AllreduceStats())).Message);
        Assert.All(messages, m => Assert.Equal(messages[0], m));
        Assert.Contains("3 encodings", messages[0]);
    }

    /// <summary>Claims a 1 GB encoding for any bucket; the algorithm must stop before asking for the bytes.</summary>
    private sealed class OversizedTestCodec : IGradientCodec
    {
        public string Name => "oversized-test";
        public CodecKind Kind => CodecKind.Int8;
        public int EncodedBytes(int elements) => 1 << 30;
        public void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed) => throw new InvalidOperationException("not reached");
        public void Decode(ReadOnlySpan<byte> encoded, Span<float> output) => throw new InvalidOperationException("not reached");
        public void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator) => throw new InvalidOperationException("not reached");
    }
}
