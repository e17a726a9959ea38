using Orchestrator.Trainer.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Ghost batch norm of channels-last CPU activations as libtorch's own batch norm applied to each ghost batch where it
/// lies: a ghost batch is a contiguous NHWC block, so <c>split</c> cuts views (its backward is one <c>cat</c>), each
/// block is normalized by ATen's channels-last kernel, and the running statistics advance once per ghost batch, as if
/// BatchNorm had seen the ghost batches one after the other.
/// </summary>
/// <remarks>
/// Why not the fused kernels (<see cref="GhostBatchNormCpuFunction"/>) here: those split their work over .NET threads,
/// and right after a convolution OpenMP's worker threads are still spinning on the same cores, so with more than one
/// intra-op thread the two fight for the CPUs: ghost 64 of a [256, 32, 28, 28] activation took 10.6 ms forward and
/// 8.8 ms backward against batch norm's 1.9 and 3.4 ms (2 threads, this project's 2-core VM). Per ghost batch, ATen's
/// kernels run on OpenMP's own threads: 4.1 and 6.2 ms, and the example CNN's step with ghost 64 went from 1.3x to 1.04x
/// of batch norm's. With one thread nothing competes, and the fused kernels, which need no copy, stay as fast as batch
/// norm (3.9 and 6.3 ms against 3.7 and 6.3), so this path is for several threads only. The price is one copy of the
/// output (the <c>cat</c>) each way, and sums whose order depends on the thread count, as batch norm's own do.
/// </remarks>
internal static class ChunkwiseBatchNorm
{
    /// <summary>Whether <paramref name="input"/> takes this path when libtorch computes with <paramref name="threads"/> threads.</summary>
    public static bool Suits(Tensor input, int threads) =>
        threads > 1 && input.device_type == DeviceType.CPU && ChannelsLast.Is(input) && !input.is_contiguous();

    /// <summary>
    /// Normalizes each ghost batch of <paramref name="input"/> (rows <paramref name="sizes"/>, in order) by its own
    /// statistics; updates <paramref name="runningMean"/> and <paramref name="runningVar"/> (when given) once per ghost
    /// batch. The output is channels-last like the input; differentiable in input, weight and bias.
    /// </summary>
    public static Tensor Forward(Tensor input, long[] sizes, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        double momentum, double eps)
    {
        using var scope = NewDisposeScope();
        var normalized = input.split(sizes, 0)
            .Select(chunk => nn.functional.batch_norm(chunk, runningMean, runningVar, weight, bias, true, momentum, eps))
            .ToList();
        return cat(normalized, 0).MoveToOuterDisposeScope();
    }
}
