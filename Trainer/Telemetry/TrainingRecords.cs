using System.Text.Json.Serialization;
using Orchestrator.Trainer.LowPrecision;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>One optimizer step as written to <c>metrics.jsonl</c>.</summary>
/// <param name="Samples">Samples in this step's global batch.</param>
/// <param name="Seconds">Wall time of this step (data, forward, backward, synchronization, update).</param>
/// <param name="Elapsed">Wall time since the run (or resumed run) started.</param>
/// <param name="CompressionSeconds">Of <paramref name="Seconds"/>, this worker's gradient encoding and decoding.</param>
/// <param name="CommunicationSeconds">Of <paramref name="Seconds"/>, this worker's allreduce transfers (waiting included).</param>
/// <param name="BytesSent">Allreduce payload bytes this worker sent in this step.</param>
/// <param name="BytesReceived">Allreduce payload bytes this worker received in this step.</param>
/// <param name="CompressionRatio">fp32 size over wire size of this step's gradients (1 when uncompressed or skipped).</param>
/// <param name="Skipped">Every worker skipped the update because some gradient was not finite.</param>
/// <param name="HiddenSeconds">Of <paramref name="CompressionSeconds"/> + <paramref name="CommunicationSeconds"/>, what ran on the
/// communication thread while the backward still ran (<c>compression.overlap</c>), so the step did not wait for it.</param>
/// <param name="LowPrecision">Bits in use, measured gradient sparsity, mask density and mask time; null (and left out of the
/// JSON) when the job uses no low-precision or sparse training.</param>
public sealed record StepRecord(long Step, int Epoch, double Lr, double Momentum, double Loss, double Accuracy, int Samples, double Seconds, double Elapsed,
    double CompressionSeconds = 0, double CommunicationSeconds = 0, long BytesSent = 0, long BytesReceived = 0, double CompressionRatio = 1, bool Skipped = false,
    double HiddenSeconds = 0, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] LowPrecisionRecord? LowPrecision = null)
{
    /// <summary>Synchronization time the step waited for: compression and communication not hidden behind the backward.</summary>
    public double ExposedSyncSeconds => Math.Max(0, CompressionSeconds + CommunicationSeconds - HiddenSeconds);

    /// <summary>Step time spent neither waiting for compression nor for communication: data, forward, backward, update.</summary>
    public double ComputeSeconds => Math.Max(0, Seconds - ExposedSyncSeconds);
}

/// <summary>One evaluation on the test split, written to <c>metrics.jsonl</c> after each epoch.</summary>
public sealed record EvalRecord(long Step, int Epoch, double TestLoss, double TestAccuracy);

/// <summary>What the run will do, announced once before the first step.</summary>
public sealed record TrainingPlan(long TotalSteps, int StepsPerEpoch, int Epochs, long StartStep, string Device, int Threads, long Parameters);
