using System.CommandLine;
using Orchestrator.Bench.Codecs;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression.Torch;
using Orchestrator.Trainer.Compression;
using Spectre.Console;
using TorchSharp;

namespace Orchestrator.Bench.Commands;

/// <summary><c>orchestrator bench codecs</c>: encode/decode throughput of both codec implementations next to memcpy.</summary>
public static class CodecBenchCommand
{
    private static readonly CompressionSpec[] Codecs =
    [
        CompressionSpec.Default with { Codec = CodecKind.Int8 },
        CompressionSpec.Default with { Codec = CodecKind.Nm, N = 2, M = 4 },
        CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 2, M = 4 },
        CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 1, M = 2 },
    ];

    public static Command Create()
    {
        var elements = new Option<int>("--elements") { Description = "fp32 values per encode", DefaultValueFactory = _ => 10_000_000 }.Between(1, int.MaxValue / sizeof(float));
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions (median reported)", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var torchOption = new Option<bool>("--torch") { Description = "Also measure the torch-op implementation (slow on CPU)", DefaultValueFactory = _ => true };
        var command = new Command("codecs", "Codec throughput (GB/s of fp32 input), CPU kernels and torch ops, 1 and 2 threads, next to memcpy") { elements, repeats, torchOption };
        command.SetAction(parse => CommandGuard.Run(() => Execute(parse.GetValue(elements), parse.GetValue(repeats), parse.GetValue(torchOption))));
        return command;
    }

    private static int Execute(int elements, int repeats, bool withTorch)
    {
        double memcpy = MemoryBandwidth.MeasureCopyGBps(elements * sizeof(float), repeats);
        AnsiConsole.MarkupLineInterpolated($"{elements:N0} floats, best of {repeats}; memcpy {memcpy:F2} GB/s (1 thread)");
        var table = new Table().AddColumns("codec", "implementation", "threads", "encode GB/s", "decode GB/s", "enc+dec GB/s", "vs memcpy");
        // The fused kernels first: libtorch's idle OpenMP workers spin for a while after torch ops and
        // would steal the core from the C# kernels measured after them.
        foreach (var spec in Codecs)
            foreach (int threads in new[] { 1, 2 })
            {
                var cpu = CodecRegistry.Create(spec);
                var (encode, decode) = CodecThroughput.Measure(cpu, elements, repeats, threads);
                Row(table, cpu.Name, "fused C#", threads, encode, decode, memcpy);
            }
        if (withTorch)
            foreach (var spec in Codecs)
                foreach (int threads in new[] { 1, 2 })
                {
                    torch.set_num_threads(threads);
                    var tensorCodec = TorchCodecRegistry.Create(spec);
                    var (encode, decode) = TorchCodecThroughput.Measure(tensorCodec, elements, Math.Max(1, repeats / 2));
                    Row(table, tensorCodec.Name, "torch ops", threads, encode, decode, memcpy);
                }
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>enc+dec is the rate of encoding then decoding the same data (harmonic combination).</summary>
    private static void Row(Table table, string name, string implementation, int threads, double encode, double decode, double memcpy)
    {
        double both = 1 / (1 / encode + 1 / decode);
        table.AddRow(Markup.Escape(name), implementation, $"{threads}", $"{encode:F2}", $"{decode:F2}", $"{both:F2}", $"{both / memcpy:P0}");
    }
}
