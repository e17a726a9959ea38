using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>One worker: its gradients already are the average; nothing to send.</summary>
public sealed class SingleProcessSynchronizer : IGradientSynchronizer
{
    public int Rank => 0;
    public int WorldSize => 1;
    public string Algorithm => "none";
    public SynchronizerStats Stats { get; } = new();
    public void Attach(nn.Module model) { }
    public void BeginOverlap(long step) { }

    public bool Synchronize(long step)
    {
        Stats.Steps++;
        return true;
    }

    public bool DefersUpdates => false; // nothing to wait for
    public IReadOnlyList<IReadOnlyList<string>> BucketParameterNames => [];
    public bool SynchronizeDeferred(long step, Span<double> controls) => throw new NotSupportedException("a single process defers no update");
    public bool AwaitBucket(int bucket) => throw new NotSupportedException("a single process defers no update");
    public bool CompleteDeferred() => true;
    public void SumAcrossWorkers(Span<double> values) { }
    public void SyncBuffers(nn.Module model) { }
    public void VerifyIdentical(nn.Module model, long step) { }
    public byte[] CollectState() => []; // nothing is compressed, so there are no residuals
    public string? RestoreState(ReadOnlySpan<byte> state) => null;
    public void Dispose() { }
}
