using System.Text.Json.Serialization;
using Orchestrator.Trainer.LowPrecision;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>The run's outcome, written to <c>summary.json</c>.</summary>
/// <param name="SamplesPerSecond">Training samples per second of step time (evaluation and checkpoints excluded).</param>
/// <param name="WallSeconds">Wall time of this process's run, start to finish.</param>
/// <param name="Updates">Optimizer updates applied (steps skipped for non-finite gradients excluded).</param>
/// <param name="Epochs">Epochs trained, after regime adaptation.</param>
/// <param name="Workers">Data-parallel workers that trained.</param>
/// <param name="Codec">Gradient codec on the wire (none, int8, 2:4 mvue+int8, ...).</param>
/// <param name="Algorithm">Allreduce algorithm that averaged the gradients (ring, allgather, mpi; none for one worker).</param>
/// <param name="SkippedSteps">Steps every worker skipped together for a non-finite gradient.</param>
/// <param name="BytesSentPerStep">Allreduce payload bytes one worker sent per step (this run's steps).</param>
/// <param name="CompressionRatio">fp32 size over wire size of the gradients sent.</param>
/// <param name="OverlappedSteps">Steps in which some gradient bucket started averaging before the backward ended (<c>compression.overlap</c>); 0 without overlap.</param>
/// <param name="ResumedFromStep">Step of the checkpoint this run resumed from; 0 for a fresh start.</param>
/// <param name="LowPrecision">Low-precision and sparse training figures; null (left out of the JSON) when not used.</param>
public sealed record RunSummary(
    string Name,
    long Steps,
    long Updates,
    int Epochs,
    double TestAccuracy,
    double TestLoss,
    double BestTestAccuracy,
    double SamplesPerSecond,
    double WallSeconds,
    string Device,
    int Threads,
    long Parameters,
    int TrainSamples,
    int TestSamples,
    long ResumedFromStep,
    int Workers,
    string Codec,
    string Algorithm,
    long SkippedSteps,
    double BytesSentPerStep,
    double CompressionRatio,
    long OverlappedSteps = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] LowPrecisionSummary? LowPrecision = null);
