namespace Orchestrator.Trainer.Sparsity;

/// <summary>How <see cref="TransposableNmMask"/> chooses the kept entries of each M x M block (ALGORITHMS.md section 8).</summary>
public enum TransposableMaskMethod
{
    /// <summary>
    /// Visit entries by descending magnitude and keep one while its row and column each hold fewer than N, then repair
    /// rows the greedy pass left short (see <see cref="GreedyBlockMask"/>). Fast; the greedy pass is a 2-approximation.
    /// </summary>
    Greedy,

    /// <summary>The exact maximum of the kept magnitudes, by min-cost flow per block (see <see cref="MinCostFlowBlockMask"/>).</summary>
    Optimal,
}
