using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Orchestrator.Trainer.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Ghost batch norm of a contiguous or channels-last float32 CPU tensor as one autograd node whose forward and backward are
/// <see cref="GhostBatchNormKernels"/> (or <see cref="GhostBatchNormChannelsLastKernels"/>): as many passes over the activations as batch norm itself, and no
/// copies (the generic path folds chunks into channels, which costs a permuted copy each way, in both passes).
/// </summary>
/// <remarks>
/// TorchSharp hands a custom backward's input gradient to libtorch as a handle that stays ours: libtorch
/// takes its own reference when the call returns, so the handles are disposed at this thread's next call
/// (<see cref="ReleaseReturned"/>) rather than left to the finalizer, which would keep an activation-sized
/// gradient alive until a garbage collection happens to run.
/// </remarks>
internal sealed class GhostBatchNormCpuFunction : autograd.SingleTensorFunction<GhostBatchNormCpuFunction>
{
    private const string StateKey = "state";

    [ThreadStatic] private static List<Tensor>? returned;

    /// <summary>Whether the fused path can take <paramref name="input"/> and these parameters.</summary>
    public static bool Supports(Tensor input, Tensor? weight, Tensor? bias) =>
        Fits(input) && (input.is_contiguous() || ChannelsLast.Is(input)) && (weight is null || Fits(weight)) && (bias is null || Fits(bias));

    // Tensor.bytes, through which the kernels reach the values, spans at most int.MaxValue bytes.
    private static bool Fits(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.numel() * sizeof(float) <= int.MaxValue;

    /// <summary>The first value of a contiguous CPU tensor (native memory: nothing to pin).</summary>
    private static unsafe float* Pointer(Tensor t) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>The first value of <paramref name="t"/> in its memory order: NCHW-contiguous, or NHWC when <paramref name="channelsLast"/>.</summary>
    private static unsafe float* Pointer(Tensor t, bool channelsLast)
    {
        if (!channelsLast) return Pointer(t);
        using var nhwc = t.permute(0, 2, 3, 1); // a contiguous view of the same memory
        return Pointer(nhwc);
    }

    /// <summary><paramref name="t"/> in the memory order the kernels read (itself when it already is).</summary>
    private static Tensor InLayout(Tensor t, bool channelsLast)
    {
        if (!channelsLast) return t.is_contiguous() ? t : t.contiguous();
        return ChannelsLast.Is(t) ? t : ChannelsLast.Of(t);
    }

    /// <summary>
    /// Normalizes the chunks of <paramref name="input"/> ([N, C, ...], contiguous float32 on the CPU), differentiably in
    /// input, weight and bias; returns the output and each chunk's mean and unbiased variance ([k * C], for the running statistics).
    /// </summary>
    /// <param name="threads">Most tasks at once (torch's intra-op thread count in training); the result does not depend on it.</param>
    public static (Tensor output, double[] mean, double[] unbiasedVar) Apply(Tensor input, Tensor? weight, Tensor? bias, long[] chunkRows, double eps, int threads)
    {
        ReleaseReturned();
        long channels = input.shape[1];
        var layout = new GhostChunkLayout(chunkRows, channels, input.numel() / (input.shape[0] * channels));
        // A tensor that is both (e.g. [N, C, 1, 1]) has one memory order: the NCHW kernels take it.
        var state = new State(layout, eps, threads, channelsLast: !input.is_contiguous());
        var output = apply(input, weight, bias, state);
        // apply hands back its own handle on the forward's output; the forward's handle is no longer needed.
        state.ForwardOutput?.Dispose();
        state.ForwardOutput = null;
        var unbiased = new double[state.BiasedVar.Length];
        for (int j = 0; j < layout.Chunks; j++)
        {
            double n = layout.Count(j);
            for (long c = 0; c < channels; c++)
            {
                long at = j * channels + c;
                unbiased[at] = state.BiasedVar[at] * n / (n - 1);
            }
        }
        return (output, state.Mean, unbiased);
    }

    public override string Name => nameof(GhostBatchNorm);

    public override unsafe Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, weight, bias, state) = ((Tensor)vars[0], vars[1] as Tensor, vars[2] as Tensor, (State)vars[3]);
        var output = empty_like(input); // keeps the input's memory order
        if (state.ChannelsLast)
            GhostBatchNormChannelsLastKernels.Forward(Pointer(input, true), Pointer(output, true), state.Layout, Values(weight), Values(bias), state.Eps,
                state.Mean, state.BiasedVar, state.InvStd, state.Threads);
        else
            GhostBatchNormKernels.Forward(Pointer(input), Pointer(output), state.Layout, Values(weight), Values(bias), state.Eps,
                state.Mean, state.BiasedVar, state.InvStd, state.Threads);
        state.ForwardOutput = output;
        state.HasBias = bias is not null;
        ctx.save_for_backward([input, weight!]);
        ctx.save_data(StateKey, state);
        return output;
    }

    public override unsafe List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        ReleaseReturned();
        var state = (State)ctx.get_data(StateKey);
        var saved = ctx.get_saved_variables();
        var (input, weight) = (saved[0], saved[1]);
        var layout = state.Layout;
        var dy = InLayout(grad_output, state.ChannelsLast);
        var dx = empty_like(input);
        var weightGrad = new double[state.Mean.Length];
        var biasGrad = new double[state.Mean.Length];
        if (state.ChannelsLast)
            GhostBatchNormChannelsLastKernels.Backward(Pointer(dy, true), Pointer(input, true), Pointer(dx, true), layout, Values(weight),
                state.Mean, state.InvStd, weightGrad, biasGrad, state.Threads);
        else
            GhostBatchNormKernels.Backward(Pointer(dy), Pointer(input), Pointer(dx), layout, Values(weight),
                state.Mean, state.InvStd, weightGrad, biasGrad, state.Threads);
        bool hasWeight = weight is not null;
        if (!ReferenceEquals(dy, grad_output)) dy.Dispose();
        grad_output.Dispose();
        foreach (var t in saved) t?.Dispose();

        // gamma and beta are shared by the chunks: their gradients sum the chunks'.
        Tensor? gw = hasWeight ? ParameterGradient(weightGrad, layout) : null;
        Tensor? gb = state.HasBias ? ParameterGradient(biasGrad, layout) : null;
        var grads = new List<Tensor>([dx, gw!, gb!, null!]);
        (returned ??= []).AddRange(grads.Where(g => g is not null));
        return grads;
    }

    /// <summary>Disposes the gradient handles this thread gave libtorch in earlier calls (it holds its own references by now).</summary>
    private static void ReleaseReturned()
    {
        if (returned is not { Count: > 0 }) return;
        foreach (var t in returned) t.Dispose();
        returned.Clear();
    }

    private static Tensor ParameterGradient(double[] perChunk, GhostChunkLayout layout)
    {
        var sums = new double[layout.Channels];
        for (int j = 0; j < layout.Chunks; j++)
            for (long c = 0; c < layout.Channels; c++)
                sums[c] += perChunk[j * layout.Channels + c];
        return tensor(Array.ConvertAll(sums, v => (float)v));
    }

    private static float[]? Values(Tensor? t)
    {
        if (t is null) return null;
        using var values = t.detach();
        return values.data<float>().ToArray();
    }

    /// <summary>What one call computes and keeps for its backward pass.</summary>
    private sealed class State(GhostChunkLayout layout, double eps, int threads, bool channelsLast)
    {
        /// <summary>Whether the activations are NHWC in memory (channels-last) rather than NCHW.</summary>
        public bool ChannelsLast { get; } = channelsLast;
        public GhostChunkLayout Layout { get; } = layout;
        public double Eps { get; } = eps;
        public int Threads { get; } = threads;
        public Tensor? ForwardOutput { get; set; }
        public double[] Mean { get; } = new double[layout.Chunks * layout.Channels];
        public double[] BiasedVar { get; } = new double[layout.Chunks * layout.Channels];
        public double[] InvStd { get; } = new double[layout.Chunks * layout.Channels];
        public bool HasBias { get; set; }
    }
}
