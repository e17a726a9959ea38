using System.Runtime.InteropServices;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Compression;

/// <summary>
/// The fused CPU kernels and the torch-op codecs share one wire format: each decodes the other's
/// bytes to exactly the same floats, so a GPU worker and a CPU worker can sit in one allreduce.
/// </summary>
public sealed class CrossImplementationTests
{
    public static TheoryData<string, int, int, string> Specs => new()
    {
        { "none", 2, 4, "mvue" },
        { "int8", 2, 4, "mvue" },
        { "nm", 2, 4, "mvue" },
        { "nm", 1, 2, "mvue" },
        { "nm", 3, 8, "mvue" },
        { "nm+int8", 2, 4, "mvue" },
        { "nm+int8", 1, 2, "mvue" },
        { "nm+int8", 2, 4, "greedy" },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Each_implementation_decodes_the_others_bytes_bit_identically(string codec, int n, int m, string pruner)
    {
        var spec = CompressionSpec.Default with { Codec = Named.Codec(codec), N = n, M = m, Pruner = Named.Pruner(pruner) };
        var cpu = CodecRegistry.Create(spec);
        var tensorCodec = TorchCodecRegistry.Create(spec);
        Assert.Equal(cpu.Name, tensorCodec.Name);

        foreach (int elements in new[] { 1, 5, 1023, 1025, 4099 })
        {
            Assert.Equal(cpu.EncodedBytes(elements), tensorCodec.EncodedBytes(elements));
            var values = randn(new long[] { elements }, generator: new Generator(42)).data<float>().ToArray();
            for (int i = 0; i < elements; i += 7) values[i] = 0; // exact zeros and sparse blocks

            // CPU encodes, both decode.
            var cpuBytes = new byte[cpu.EncodedBytes(elements)];
            cpu.Encode(values, cpuBytes, seed: 7);
            var cpuDecoded = new float[elements];
            cpu.Decode(cpuBytes, cpuDecoded);
            using var torchDecoded = tensorCodec.Decode(tensor(cpuBytes), elements);
            Assert.Equal(cpuDecoded, torchDecoded.data<float>().ToArray());

            // Torch encodes, both decode.
            using var torchBytes = tensorCodec.Encode(tensor(values), seed: 7);
            var bytes = torchBytes.data<byte>().ToArray();
            var fromTorch = new float[elements];
            cpu.Decode(bytes, fromTorch);
            using var torchSelf = tensorCodec.Decode(torchBytes, elements);
            Assert.Equal(torchSelf.data<float>().ToArray(), fromTorch);
        }
    }
}
