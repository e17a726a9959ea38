namespace Orchestrator.Trainer.Data;

/// <summary>How many samples of each split to keep (the spec's <c>data.train_subset</c> / <c>test_subset</c>); 0 = all.</summary>
public readonly record struct SplitLimits(int Train, int Test);
