using System.Text.Json.Nodes;
using Orchestrator.Spec;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>The loss and per-layer gaps of several batches, averaged with each batch weighted by its images.</summary>
internal sealed class StatisticsGapTally(int layers)
{
    private readonly double[] meanGaps = new double[layers], stdGaps = new double[layers];
    private readonly long[] layerRows = new long[layers];
    private double loss;
    private long rows;

    /// <summary>The average loss (NaN before any batch).</summary>
    public double Loss => loss / rows;

    /// <summary>Adds one batch of <paramref name="batchRows"/> images.</summary>
    public void Add(long batchRows, Tensor batchLoss, (double Mean, double Std)?[] gaps)
    {
        loss += batchRows * batchLoss.item<float>();
        rows += batchRows;
        for (int l = 0; l < gaps.Length; l++)
        {
            if (gaps[l] is not { } g) continue;
            meanGaps[l] += batchRows * g.Mean;
            stdGaps[l] += batchRows * g.Std;
            layerRows[l] += batchRows;
        }
    }

    /// <summary>Layer <paramref name="layer"/>'s average mean gap; null when no batch called it.</summary>
    public double? MeanGap(int layer) => layerRows[layer] == 0 ? null : meanGaps[layer] / layerRows[layer];

    /// <summary>Layer <paramref name="layer"/>'s average deviation gap; null when no batch called it.</summary>
    public double? StdGap(int layer) => layerRows[layer] == 0 ? null : stdGaps[layer] / layerRows[layer];

    /// <summary>One JSON object per layer: name, norm, channels, then <paramref name="fields"/> (name, value) each.</summary>
    public static JsonArray Layers(IReadOnlyList<NormLayerTarget> layers, Func<int, IEnumerable<(string Name, double? Value)>> fields)
    {
        var array = new JsonArray();
        for (int l = 0; l < layers.Count; l++)
        {
            var entry = new JsonObject
            {
                ["name"] = layers[l].Name,
                ["norm"] = layers[l].Kind.SpecName(),
                ["channels"] = layers[l].Channels,
            };
            foreach (var (name, value) in fields(l)) entry[name] = Number(value);
            array.Add(entry);
        }
        return array;
    }

    /// <summary>Non-finite numbers as the strings the project's JSON uses for them ("NaN", "Infinity", "-Infinity"); a
    /// missing value as null.</summary>
    public static JsonNode? Number(double? value) => value switch
    {
        null => null,
        { } v when double.IsFinite(v) => JsonValue.Create(v),
        { } v => JsonValue.Create(double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity"),
    };
}
