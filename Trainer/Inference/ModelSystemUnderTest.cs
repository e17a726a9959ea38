using Orchestrator.Trainer.Inference.LoadGen;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Inference;

/// <summary>
/// A trained model as LoadGen's system under test: the samples of a query (test-set images, already on the device) go
/// through one eval-mode forward per <c>maxBatch</c> samples, and the argmax of each row is the prediction.
/// </summary>
public sealed class ModelSystemUnderTest : ISystemUnderTest, IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly Tensor images;
    private readonly int maxBatch;

    /// <param name="model">In eval mode on <paramref name="device"/>.</param>
    /// <param name="images">The sample library [N, C, H, W]; copied to <paramref name="device"/> once here.</param>
    /// <param name="device">Where the forward runs.</param>
    /// <param name="maxBatch">Most samples per forward (a larger query runs in several).</param>
    public ModelSystemUnderTest(nn.Module<Tensor, Tensor> model, Tensor images, Device device, int maxBatch)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "must be >= 1");
        this.model = model;
        this.images = images.to(device);
        this.maxBatch = maxBatch;
    }

    /// <inheritdoc/>
    public int[] Run(IReadOnlyList<int> samples)
    {
        var predictions = new int[samples.Count];
        using var noGrad = no_grad();
        for (int start = 0; start < samples.Count; start += maxBatch)
        {
            int count = Math.Min(maxBatch, samples.Count - start);
            using var scope = NewDisposeScope();
            var indices = new long[count];
            for (int i = 0; i < count; i++) indices[i] = samples[start + i];
            var batch = images.index_select(0, tensor(indices, device: images.device));
            var predicted = model.forward(batch).argmax(1).cpu();
            var values = predicted.data<long>();
            for (int i = 0; i < count; i++) predictions[start + i] = (int)values[i];
        }
        return predictions;
    }

    /// <inheritdoc/>
    public void Dispose() => images.Dispose();
}
