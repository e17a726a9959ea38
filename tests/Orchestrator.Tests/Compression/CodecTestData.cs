using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Compression;

/// <summary>Codec instances and inputs shared by the compression tests.</summary>
internal static class CodecTestData
{
    /// <summary>Every codec under test, by a readable key; "/scalar" forces the scalar kernels.</summary>
    public static readonly IReadOnlyDictionary<string, Func<IGradientCodec>> Codecs = BuildCodecs();

    private static Dictionary<string, Func<IGradientCodec>> BuildCodecs()
    {
        var d = new Dictionary<string, Func<IGradientCodec>> { ["none"] = () => new NoneCodec() };
        foreach (bool v in new[] { true, false })
        {
            string s = v ? "" : "/scalar";
            d["int8" + s] = () => new Int8Codec(v);
            foreach (var (n, m) in new[] { (1, 2), (2, 4), (3, 8), (4, 8), (1, 16), (7, 16) })
            {
                d[$"nm {n}:{m} mvue{s}"] = () => new NmCodec(new MvuePruner(n, m, v), v);
                d[$"nm+int8 {n}:{m} mvue{s}"] = () => new NmInt8Codec(new MvuePruner(n, m, v), v);
            }
            d[$"nm 2:4 greedy{s}"] = () => new NmCodec(new GreedyPruner(2, 4), v);
            d[$"nm+int8 2:4 greedy{s}"] = () => new NmInt8Codec(new GreedyPruner(2, 4), v);
        }
        return d;
    }

    public static TheoryData<string> CodecKeys()
    {
        var data = new TheoryData<string>();
        foreach (var key in Codecs.Keys) data.Add(key);
        return data;
    }

    /// <summary>Whether the codec draws random numbers (so different seeds give different bytes).</summary>
    public static bool IsStochastic(string key) => key != "none" && !key.Contains("greedy", StringComparison.Ordinal)
        || key.Contains("+int8", StringComparison.Ordinal);

    /// <summary>Gradient-like values: Gaussian with a per-block spread, some exact zeros, some
    /// dominant values (which MVUE saturates) and whole zero blocks.</summary>
    public static float[] Gradient(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            double spread = 0.1 + (i / 16 % 5);
            x[i] = (float)(g * spread);
            int r = rng.Next(20);
            if (r == 0) x[i] = 0f;
            else if (r == 1) x[i] *= 30f;
        }
        for (int i = 64; i + 16 <= n; i += 160) Array.Clear(x, i, 16);
        return x;
    }
}
