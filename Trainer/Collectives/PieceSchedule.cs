namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// How a step's gradients travel (pure logic). <c>bucket_mb</c> caps every allreduce: a bucket larger than that (one
/// parameter bigger than the cap: a big classifier weight) goes in pieces, each its own allreduce, in every mode, so a
/// spec averages the same bits with and without overlap. With <c>compression.overlap_forward</c> the order changes: the
/// first piece of every bucket goes as the backward makes the bucket final, in the backward's fixed order
/// (<see cref="BucketReadiness"/>), and the other pieces (<see cref="Rest"/>) go after the step's control values, in the
/// order the next forward needs their buckets. So a big bucket that is final early (the classifier, whose gradient the
/// backward makes first) starts at once but does not hold back the small buckets of the first layers, which the backward
/// finishes last and the next forward needs first (ByteScheduler's priorities, as a static order every rank shares).
/// </summary>
public sealed class PieceSchedule
{
    /// <summary>Piece lengths are multiples of this many values, so a codec's blocks never straddle two pieces.</summary>
    public const int Alignment = 1024;

    private readonly (int Start, int Length)[][] pieces;

    /// <param name="bucketElements">Values per bucket.</param>
    /// <param name="pieceElements">Most values per allreduce: a bucket no larger goes whole; a larger one (one parameter
    /// bigger than this) in pieces of this many values rounded down to <see cref="Alignment"/> (at least one block).</param>
    /// <param name="forwardOrder">Per bucket, when the forward first needs it (lower first): the position of its first
    /// parameter in registration order, which is the forward's for the models here. The same on every rank.</param>
    public PieceSchedule(IReadOnlyList<int> bucketElements, long pieceElements, IReadOnlyList<int> forwardOrder)
    {
        if (forwardOrder.Count != bucketElements.Count)
            throw new ArgumentException($"{forwardOrder.Count} forward positions for {bucketElements.Count} buckets", nameof(forwardOrder));
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceElements, 1);
        long length = Math.Max(Alignment, pieceElements / Alignment * Alignment);
        pieces = bucketElements.Select(elements => elements <= pieceElements ? [(0, elements)] : Split(elements, length)).ToArray();
        Rest = Enumerable.Range(0, pieces.Length)
            .OrderBy(b => forwardOrder[b]).ThenBy(b => b)
            .SelectMany(b => Enumerable.Range(1, Math.Max(0, pieces[b].Length - 1)).Select(p => (b, p)))
            .ToArray();
    }

    /// <summary>Number of buckets.</summary>
    public int Buckets => pieces.Length;

    /// <summary>Bucket <paramref name="bucket"/>'s pieces, in buffer order: (first value, number of values).</summary>
    public IReadOnlyList<(int Start, int Length)> PiecesOf(int bucket) => pieces[bucket];

    /// <summary>The pieces that go after the control values (every piece but each bucket's first), in send order.</summary>
    public IReadOnlyList<(int Bucket, int Piece)> Rest { get; }

    private static (int Start, int Length)[] Split(int elements, long length)
    {
        var split = new List<(int, int)>();
        for (long start = 0; start < elements; start += length)
            split.Add(((int)start, (int)Math.Min(length, elements - start)));
        return [.. split];
    }
}
