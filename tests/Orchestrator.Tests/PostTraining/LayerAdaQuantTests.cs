using Orchestrator.Trainer.PostTraining.AdaQuant;
using Orchestrator.Trainer.PostTraining.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.PostTraining;

/// <summary>
/// AdaQuant (ALGORITHMS.md section 9) lowers each layer's output MSE against full precision on held-out calibration
/// samples, compared with plain rounding, and never returns a layer worse than rounding.
/// </summary>
public sealed class LayerAdaQuantTests
{
    /// <summary>A trained-looking model: a conv, and a linear layer on ReLU features (the inputs of a real network's layers).</summary>
    private sealed class TwoLayers : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> conv = nn.Conv2d(3, 8, 3, padding: 1);
        private readonly nn.Module<Tensor, Tensor> fc = nn.Linear(8 * 6 * 6, 10);

        /// <summary>Parameters drawn from <paramref name="seed"/> (not the global generator other tests share).</summary>
        public TwoLayers(ulong seed) : base(nameof(TwoLayers))
        {
            RegisterComponents();
            using var generator = new Generator(seed);
            using var noGrad = no_grad();
            foreach (var p in parameters()) p.copy_(randn(p.shape, generator: generator).mul(p.dim() == 1 ? 0.1 : 1.0 / Math.Sqrt(p[0].numel())));
        }

        public override Tensor forward(Tensor x) => fc.call(nn.functional.relu(conv.call(x)).flatten(1));
    }

    [Fact]
    public void AdaQuant_lowers_every_layers_held_out_output_mse_below_plain_rounding_at_4_bits()
    {
        using var scope = NewDisposeScope();
        var model = new TwoLayers(5);
        model.eval();
        using var generator = new Generator(21);
        var fit = randn([160, 3, 6, 6], generator: generator);
        var heldOut = randn([80, 3, 6, 6], generator: generator);
        var layers = QuantizableLayer.Of(model);
        Assert.Equal(["conv", "fc"], layers.Select(l => l.Name));
        foreach (var layer in layers)
        {
            var weightBefore = layer.Weight.detach().clone();
            var fitPairs = LayerActivations.Capture(model, layer, fit);
            var heldPairs = LayerActivations.Capture(model, layer, heldOut);
            using var result = LayerAdaQuant.Quantize(layer, fitPairs, heldPairs, weightBits: 4, activationBits: 8,
                new AdaQuantSettings(Iterations: 150, BatchSize: 32, Seed: 3));

            Assert.True(result.UsedAdaQuant, $"{layer.Name}: AdaQuant {result.OptimizedMse} vs rounding {result.RoundingMse}");
            Assert.True(result.OptimizedMse < 0.9 * result.RoundingMse, $"{layer.Name}: AdaQuant {result.OptimizedMse} vs rounding {result.RoundingMse}");
            // The reported MSE is what the returned weights give on the held-out pairs.
            Assert.Equal(result.ResultMse, LayerAdaQuant.Mse(layer, result.Result, heldPairs, 8), 6);
            // The result is 4-bit per channel: at most 16 values in each output channel.
            for (long c = 0; c < layer.OutputChannels; c++)
                Assert.True(result.Result.Weight[c].unique().Item1.numel() <= 16);
            // The model's own layer is untouched (AdaQuant works on copies).
            Assert.True(layer.Weight.detach().equal(weightBefore).all().item<bool>());
        }
    }

    [Fact]
    public void AdaQuant_never_returns_a_layer_worse_than_plain_rounding()
    {
        using var scope = NewDisposeScope();
        var model = new TwoLayers(6);
        model.eval();
        using var generator = new Generator(22);
        var layer = QuantizableLayer.Of(model)[1];
        var fitPairs = LayerActivations.Capture(model, layer, randn([40, 3, 6, 6], generator: generator));
        var heldPairs = LayerActivations.Capture(model, layer, randn([40, 3, 6, 6], generator: generator));
        // An optimiser made to fail (huge steps on the weights): rounding must come back.
        using var broken = LayerAdaQuant.Quantize(layer, fitPairs, heldPairs, 4, 8, new AdaQuantSettings(Iterations: 20, BatchSize: 8, WeightLr: 10));
        Assert.True(broken.OptimizedMse > broken.RoundingMse);
        Assert.False(broken.UsedAdaQuant);
        Assert.Same(broken.Rounding, broken.Result);
        Assert.Equal(broken.RoundingMse, broken.ResultMse);
        // No iterations: the optimum is rounding itself, which is not better, so rounding is returned.
        using var none = LayerAdaQuant.Quantize(layer, fitPairs, heldPairs, 4, 8, new AdaQuantSettings(Iterations: 0));
        Assert.False(none.UsedAdaQuant);
        Assert.Equal(none.RoundingMse, none.ResultMse);
    }
}
