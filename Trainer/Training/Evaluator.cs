using Orchestrator.Trainer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Training;

/// <summary>Mean cross-entropy and accuracy of a model on a whole split, in eval mode.</summary>
public static class Evaluator
{
    public static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> model, TensorDataset split, int batchSize = 1000)
    {
        model.eval();
        try
        {
            using var noGrad = no_grad();
            double lossSum = 0;
            long correct = 0;
            for (int start = 0; start < split.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int count = Math.Min(batchSize, split.Count - start);
                var x = split.Images.narrow(0, start, count);
                var y = split.Labels.narrow(0, start, count);
                var logits = model.forward(x);
                lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(y).sum().item<long>();
            }
            return (lossSum / split.Count, (double)correct / split.Count);
        }
        finally
        {
            model.train();
        }
    }
}
