using System.Diagnostics;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Codecs;

/// <summary>Measures a torch codec's speed in GB/s of fp32 input (the unit of PLATFORM.md "Codec speed").</summary>
public static class TorchCodecThroughput
{
    /// <summary>
    /// Encodes and decodes <paramref name="elements"/> normal values <paramref name="repeats"/> times each
    /// (after one untimed warm-up) on <paramref name="device"/> (CPU when null) and returns
    /// 4 * elements * repeats / seconds / 1e9 for each direction. On CUDA it synchronizes before reading
    /// the clock, so queued kernels are counted.
    /// </summary>
    public static (double EncodeGBps, double DecodeGBps) Measure(ITensorCodec codec, int elements, int repeats, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(elements, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        device ??= CPU;
        using var scope = NewDisposeScope();
        using var generator = new Generator(12345, device);
        var input = randn([elements], ScalarType.Float32, device, generator: generator);
        codec.Decode(codec.Encode(input, 0), elements).Dispose();
        Sync(device);

        var encoded = codec.Encode(input, 1);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
            codec.Encode(input, (ulong)i).Dispose();
        Sync(device);
        double encodeSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        for (int i = 0; i < repeats; i++)
            codec.Decode(encoded, elements).Dispose();
        Sync(device);
        double decodeSeconds = clock.Elapsed.TotalSeconds;

        double bytes = 4.0 * elements * repeats;
        return (bytes / encodeSeconds / 1e9, bytes / decodeSeconds / 1e9);
    }

    private static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA)
            cuda.synchronize();
    }
}
