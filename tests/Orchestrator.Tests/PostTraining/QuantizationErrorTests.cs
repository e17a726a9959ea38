using Orchestrator.Trainer.LowPrecision;
using Orchestrator.Trainer.PostTraining.Quantization;
using static TorchSharp.torch;

namespace Orchestrator.Tests.PostTraining;

/// <summary>Quantize-dequantize error bounds of post-training quantization's per-channel weights and per-tensor inputs.</summary>
public sealed class QuantizationErrorTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    public void Per_channel_weights_are_within_half_a_step_of_their_channel_and_take_at_most_2_to_the_b_levels(int bits)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        // Channels of very different scales: a per-tensor range would give the small ones a step larger than their values.
        var w = randn([6, 3, 3, 3], generator: generator).mul(tensor(new float[] { 1e-3f, 0.01f, 0.1f, 1, 10, 100 }).reshape(6, 1, 1, 1));
        var (min, max) = FakeQuantization.ChannelRange(w);
        var q = FakeQuantization.Apply(w, min, max, bits);
        var step = max.sub(min).div(Math.Pow(2, bits) - 1);
        var error = q.sub(w).abs();
        // Half a step per channel, plus float rounding of the arithmetic (relative to the channel's magnitude).
        Assert.True(error.le(step.mul(0.5 + 1e-4)).all().item<bool>(), $"max error / step {error.div(step).max().item<float>()}");
        for (int c = 0; c < 6; c++)
            Assert.True(q[c].unique().Item1.numel() <= (long)Math.Pow(2, bits));
        // The same values as the trainer's range quantizer (the law the quantized model runs with).
        var reference = RangeQuantizer.Quantize(w.reshape(6, -1), min.reshape(6, 1), max.reshape(6, 1), bits, null).reshape(w.shape);
        Assert.True(q.allclose(reference, rtol: 1e-5, atol: 1e-7));
    }

    [Fact]
    public void Inputs_outside_the_range_clamp_to_it_and_gradients_pass_straight_through_inside()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { -2f, -0.3f, 0.1f, 0.52f, 0.9f, 3f }).requires_grad_();
        var min = tensor(-1f).requires_grad_();
        var max = tensor(1f).requires_grad_();
        var q = FakeQuantization.Apply(x, min, max, 2);
        // 2 bits over [-1, 1]: levels -1, -1/3, 1/3, 1.
        var expected = new float[] { -1f, -1f / 3, 1f / 3, 1f / 3, 1f, 1f };
        Assert.Equal(expected, q.data<float>().ToArray(), new FloatTolerance(1e-6f));
        q.sum().backward();
        // Inside the range dq/dx = 1 (straight through); outside, x does not move the clamped value.
        Assert.Equal(new float[] { 0, 1, 1, 1, 1, 0 }, x.grad!.data<float>().ToArray());
        // The bounds get gradients (learned ranges): the clamped values follow them.
        Assert.NotEqual(0f, min.grad!.item<float>());
        Assert.NotEqual(0f, max.grad!.item<float>());
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float value) => 0;
    }
}
