using Orchestrator.Trainer.LowPrecision;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Quantization;

/// <summary>
/// Quantizes the inputs of a model's layers in its forward: a forward pre-hook per layer replaces the input with its
/// quantize-dequantize over the layer's fixed range (round to nearest, <c>RangeQuantizer</c>). Simulated quantization: the
/// arithmetic stays fp32. Disposing removes the hooks.
/// </summary>
public sealed class ActivationQuantization : IDisposable
{
    private readonly List<Action> removers = [];
    private readonly List<Tensor> bounds = [];

    /// <summary>Attaches one pre-hook to each layer in <paramref name="plan"/> (matched by name).</summary>
    /// <exception cref="ArgumentException">A layer of the plan is not among <paramref name="layers"/>.</exception>
    public ActivationQuantization(IReadOnlyList<QuantizableLayer> layers, IEnumerable<LayerQuantization> plan)
    {
        var byName = layers.ToDictionary(l => l.Name);
        foreach (var entry in plan)
        {
            if (!byName.TryGetValue(entry.Layer, out var layer)) throw new ArgumentException($"no layer {entry.Layer} in the model", nameof(plan));
            var device = layer.Weight.device;
            var min = tensor(entry.ActivationMin, device: device);
            var max = tensor(entry.ActivationMax, device: device);
            bounds.Add(min);
            bounds.Add(max);
            int bits = entry.ActivationBits;
            var remover = layer.Module.register_forward_pre_hook((_, input) =>
            {
                var quantized = RangeQuantizer.Quantize(input, min, max, bits, null);
                // x + (x^ - x) with the difference detached: the values of x^, the gradient of x (rounding has none).
                return StraightThrough ? input.add(quantized.sub(input).detach()) : quantized;
            });
            removers.Add(remover.remove);
        }
    }

    /// <summary>
    /// Pass gradients through the rounding (bias tuning trains parameters before quantized inputs). Off for evaluation:
    /// the forward values then are exactly the quantizer's.
    /// </summary>
    public bool StraightThrough { get; set; }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var remove in removers) remove();
        removers.Clear();
        foreach (var bound in bounds) bound.Dispose();
        bounds.Clear();
    }
}
