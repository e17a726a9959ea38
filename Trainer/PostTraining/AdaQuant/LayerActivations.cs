using Orchestrator.Trainer.PostTraining.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.AdaQuant;

/// <summary>
/// Caches one layer's inputs and outputs while a model runs on given images, through a forward hook on the layer
/// (models call their submodules through <c>call()</c>, so the hook fires wherever the layer sits). The model runs as it
/// is: in full precision for AdaQuant's targets.
/// </summary>
public static class LayerActivations
{
    /// <summary>The layer's (input, output) for every image, on the CPU, in image order.</summary>
    public static (Tensor X, Tensor Y) Capture(nn.Module<Tensor, Tensor> model, QuantizableLayer layer, Tensor images, int batchSize = 250)
    {
        var inputs = new List<Tensor>();
        var outputs = new List<Tensor>();
        var device = layer.Weight.device;
        var remover = layer.Module.register_forward_hook((_, input, output) =>
        {
            inputs.Add(input.detach().cpu().clone().DetachFromDisposeScope());
            outputs.Add(output.detach().cpu().clone().DetachFromDisposeScope());
            return output;
        });
        try
        {
            using var noGrad = no_grad();
            for (long start = 0; start < images.shape[0]; start += batchSize)
            {
                using var scope = NewDisposeScope();
                model.forward(images.narrow(0, start, Math.Min(batchSize, images.shape[0] - start)).to(device));
            }
            return (cat(inputs, 0), cat(outputs, 0));
        }
        finally
        {
            remover.remove();
            foreach (var t in inputs.Concat(outputs)) t.Dispose();
        }
    }
}
