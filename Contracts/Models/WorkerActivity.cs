namespace Orchestrator.Contracts.Models;

/// <summary>What a rank reports it is doing in its heartbeat: the stall watch gives evaluations and checkpoints their own limit.</summary>
[GenerateSerializer]
public enum WorkerActivity
{
    /// <summary>Taking optimizer steps.</summary>
    Training,

    /// <summary>Evaluating on the test set.</summary>
    Evaluating,

    /// <summary>Writing a checkpoint.</summary>
    Checkpointing,
}
