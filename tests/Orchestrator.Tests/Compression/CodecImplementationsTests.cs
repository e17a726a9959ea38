using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;

namespace Orchestrator.Tests.Compression;

/// <summary>The codec seam: which implementation a bucket's device gets, and both implementations behind <see cref="IGradientCodec"/>.</summary>
public sealed class CodecImplementationsTests
{
    [Theory]
    [InlineData(DeviceType.CPU, null, CodecImplementation.Fused)]
    [InlineData(DeviceType.CUDA, null, CodecImplementation.TorchOps)]
    [InlineData(DeviceType.MPS, null, CodecImplementation.TorchOps)]
    [InlineData(DeviceType.CPU, CodecImplementation.TorchOps, CodecImplementation.TorchOps)]
    [InlineData(DeviceType.CUDA, CodecImplementation.Fused, CodecImplementation.Fused)]
    public void Values_are_encoded_where_they_live_unless_forced(DeviceType device, CodecImplementation? forced, CodecImplementation expected) =>
        Assert.Equal(expected, CodecImplementations.Select(device, forced));

    [Fact]
    public void The_test_hook_spellings_parse_and_anything_else_is_the_users_mistake()
    {
        Assert.Null(CodecImplementations.Parse(null));
        Assert.Null(CodecImplementations.Parse(""));
        Assert.Equal(CodecImplementation.Fused, CodecImplementations.Parse("fused"));
        Assert.Equal(CodecImplementation.TorchOps, CodecImplementations.Parse("torch"));
        var error = Assert.Throws<UserFacingException>(() => CodecImplementations.Parse("cuda"));
        Assert.Equal("--codec-implementation: expected one of fused, torch, got 'cuda'", error.Message);
    }

    public static TheoryData<string, int, int, string> Specs => new()
    {
        { "none", 2, 4, "mvue" },
        { "int8", 2, 4, "mvue" },
        { "nm", 1, 2, "mvue" },
        { "nm+int8", 2, 4, "mvue" },
        { "nm+int8", 2, 4, "greedy" },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Both_implementations_behind_IGradientCodec_share_names_sizes_and_bytes(string name, int n, int m, string pruner)
    {
        var spec = CompressionSpec.Default with { Codec = Named.Codec(name), N = n, M = m, Pruner = Named.Pruner(pruner) };
        var fused = CodecImplementations.Create(spec, CodecImplementation.Fused);
        var torchOps = CodecImplementations.Create(spec, CodecImplementation.TorchOps);
        Assert.IsNotType<TorchGradientCodec>(fused);
        Assert.IsType<TorchGradientCodec>(torchOps);
        Assert.Equal(fused.Name, torchOps.Name);

        var x = CodecTestData.Gradient(1030, 3);
        Assert.Equal(fused.EncodedBytes(x.Length), torchOps.EncodedBytes(x.Length));
        var bytes = new byte[torchOps.EncodedBytes(x.Length)];
        torchOps.Encode(x, bytes, seed: 9);

        // The torch encoding decodes to the same floats through either implementation, replacing or adding.
        var byFused = new float[x.Length];
        var byTorch = new float[x.Length];
        fused.Decode(bytes, byFused);
        torchOps.Decode(bytes, byTorch);
        Assert.Equal(byFused, byTorch);
        var start = x.Select(v => v / 3).ToArray();
        var addedByFused = (float[])start.Clone();
        var addedByTorch = (float[])start.Clone();
        fused.DecodeAdd(bytes, addedByFused);
        torchOps.DecodeAdd(bytes, addedByTorch);
        Assert.Equal(addedByFused, addedByTorch);
        Assert.NotEqual(start, addedByTorch);

        // Wrong sizes are caught before any write, as in the fused codecs.
        Assert.Throws<ArgumentException>(() => torchOps.Encode(x, new byte[bytes.Length - 1], 1));
        Assert.Throws<ArgumentException>(() => torchOps.Decode(bytes, new float[x.Length + 8]));
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(0, 4)]
    [InlineData(2, 17)]
    public void An_n_m_outside_the_spec_range_is_refused_whichever_implementation(int n, int m)
    {
        foreach (var implementation in Enum.GetValues<CodecImplementation>())
            foreach (var codec in new[] { CodecKind.Nm, CodecKind.NmInt8 })
            {
                var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
                    CodecImplementations.Create(CompressionSpec.Default with { Codec = codec, N = n, M = m }, implementation));
                Assert.Contains($"1 <= N < M <= 16; got {n}:{m}", error.Message);
            }
    }
}
