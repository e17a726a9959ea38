namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>One query: the samples it asks for and, for scheduled scenarios, when it arrives.</summary>
/// <param name="Id">0, 1, 2, ... in issue order.</param>
/// <param name="Arrival">When the query arrives, from the start of the run (scheduled scenarios); zero for the others, issued when the previous one completes.</param>
/// <param name="Samples">Indices into the sample library (the test set).</param>
public sealed record Query(long Id, TimeSpan Arrival, int[] Samples);
