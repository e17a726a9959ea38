namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Which gradient buckets may start averaging while the backward still runs (<c>compression.overlap</c>), and in which
/// order. Every rank must issue its collectives in the same order, so buckets start in one fixed order, the same on every
/// rank whatever the backward does: a bucket whose gradients are all final waits for the buckets before it in that order.
/// Pure logic; <see cref="BackwardReadiness"/> feeds it from the backward.
/// </summary>
/// <remarks>
/// The order is the backward's: gradients become final roughly in reverse registration order of the parameters (the
/// last layer's first), and a bucket is complete once its first-registered parameter is, so buckets go by their first
/// parameter, latest first; buckets holding a parameter known to be final only at the end of the backward go after all
/// others (else one such bucket early in the order would hold back every bucket behind it). The order decides only when
/// a bucket is averaged, never how: each bucket's allreduce depends on its own values, index and step alone, so the
/// averaged gradients are the same bits in any order.
/// </remarks>
public sealed class BucketReadiness
{
    private readonly int[][] parametersOf;
    private readonly int[] bucketOf;
    private readonly int[] missing;
    private readonly bool[] final;
    private int next;

    /// <param name="bucketParameters">For each bucket, the indices (registration order) of the parameters whose
    /// gradients it holds; a parameter lives in one bucket at most.</param>
    /// <param name="parameterCount">Number of parameters indexed (some may be in no bucket: frozen ones).</param>
    /// <param name="late">Parameters expected to be final only when the backward ends (their buckets go last); the
    /// expectation must be the same on every rank (it shapes the order), which a function of the model's structure is.</param>
    public BucketReadiness(IReadOnlyList<IReadOnlyList<int>> bucketParameters, int parameterCount, IReadOnlySet<int>? late = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(parameterCount);
        parametersOf = bucketParameters.Select(b => b.ToArray()).ToArray();
        bucketOf = new int[parameterCount];
        Array.Fill(bucketOf, -1);
        for (int b = 0; b < parametersOf.Length; b++)
        {
            foreach (int p in parametersOf[b])
            {
                if ((uint)p >= (uint)parameterCount) throw new ArgumentOutOfRangeException(nameof(bucketParameters), p, $"parameter indices are 0..{parameterCount - 1}");
                if (bucketOf[p] >= 0) throw new ArgumentException($"parameter {p} is in buckets {bucketOf[p]} and {b}", nameof(bucketParameters));
                bucketOf[p] = b;
            }
        }
        Order = IssueOrder(parametersOf, late ?? new HashSet<int>());
        missing = new int[parametersOf.Length];
        final = new bool[parameterCount];
        Reset();
    }

    /// <summary>The fixed order in which buckets start: buckets with a late parameter after the others, and each group by
    /// its first parameter, latest first (ties by index; empty buckets last).</summary>
    public IReadOnlyList<int> Order { get; }

    /// <summary>How many buckets have started this step.</summary>
    public int Started => next;

    /// <summary>A new step: no gradient is final, no bucket has started.</summary>
    public void Reset()
    {
        for (int b = 0; b < parametersOf.Length; b++) missing[b] = parametersOf[b].Length;
        Array.Clear(final);
        next = 0;
    }

    /// <summary>
    /// Parameter <paramref name="parameter"/>'s gradient is final (again: ignored). Returns the buckets that may start
    /// now, in order: none while the next bucket in <see cref="Order"/> still misses a gradient.
    /// </summary>
    public IReadOnlyList<int> Final(int parameter)
    {
        if (final[parameter]) return [];
        final[parameter] = true;
        if (bucketOf[parameter] is var b and >= 0) missing[b]--;
        return Release(all: false);
    }

    /// <summary>The backward is over, so every gradient is final: the buckets that have not started yet, in order.</summary>
    public IReadOnlyList<int> Rest() => Release(all: true);

    private List<int> Release(bool all)
    {
        var ready = new List<int>();
        while (next < Order.Count && (all || missing[Order[next]] == 0))
            ready.Add(Order[next++]);
        return ready;
    }

    private static int[] IssueOrder(int[][] parametersOf, IReadOnlySet<int> late) =>
        Enumerable.Range(0, parametersOf.Length)
            .OrderBy(b => parametersOf[b].Any(late.Contains))
            .ThenByDescending(b => parametersOf[b].Length > 0 ? parametersOf[b].Min() : -1)
            .ThenBy(b => b)
            .ToArray();
}
