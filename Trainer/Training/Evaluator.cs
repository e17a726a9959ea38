using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Mean cross-entropy and accuracy of a model on a whole split, in eval mode. Across workers each evaluates its own
/// contiguous share of the split (<see cref="EvaluationShard"/>) and the sums are added across ranks, so an evaluation
/// costs one forward pass over the split divided among the workers, and every rank gets the same figures.
/// </summary>
public static class Evaluator
{
    /// <summary>Images per forward: large enough to keep the cores busy, small enough that activations stay modest.</summary>
    public const int DefaultBatchSize = 1000;

    /// <summary>The whole split in this process (one worker).</summary>
    public static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> model, TensorDataset split, int batchSize = DefaultBatchSize) =>
        Evaluate(model, split, new SingleProcessSynchronizer(), batchSize);

    /// <summary>
    /// This rank's share of the split, then the loss sum, correct count and row count added across the ranks of
    /// <paramref name="synchronizer"/> (a collective: every rank must call it). The accuracy equals the one-process
    /// figure exactly; the loss up to float summation order (per-batch sums are float, their total double).
    /// </summary>
    public static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> model, TensorDataset split,
        IGradientSynchronizer synchronizer, int batchSize)
    {
        var (start, count) = EvaluationShard.Of(split.Count, synchronizer.Rank, synchronizer.WorldSize);
        Span<double> totals = stackalloc double[3];
        (totals[0], totals[1]) = Sums(model, split, start, count, batchSize);
        totals[2] = count;
        synchronizer.SumAcrossWorkers(totals);
        return (totals[0] / totals[2], totals[1] / totals[2]);
    }

    private static (double LossSum, long Correct) Sums(nn.Module<Tensor, Tensor> model, TensorDataset split, int start, int count, int batchSize)
    {
        model.eval();
        try
        {
            using var noGrad = no_grad();
            double lossSum = 0;
            long correct = 0;
            for (int offset = start; offset < start + count; offset += batchSize)
            {
                using var scope = NewDisposeScope();
                int rows = Math.Min(batchSize, start + count - offset);
                var x = split.Images.narrow(0, offset, rows);
                var y = split.Labels.narrow(0, offset, rows);
                var logits = model.forward(x);
                lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(y).sum().item<long>();
            }
            return (lossSum, correct);
        }
        finally
        {
            model.train();
        }
    }
}
