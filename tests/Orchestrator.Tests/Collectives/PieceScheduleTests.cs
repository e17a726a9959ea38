using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

public sealed class PieceScheduleTests
{
    [Fact]
    public void A_bucket_no_larger_than_the_cap_goes_whole_even_when_unaligned()
    {
        var schedule = new PieceSchedule([2621, 0, 1], pieceElements: 2621, forwardOrder: [0, 1, 2]);
        Assert.Equal([(0, 2621)], schedule.PiecesOf(0));
        Assert.Equal([(0, 0)], schedule.PiecesOf(1));
        Assert.Equal([(0, 1)], schedule.PiecesOf(2));
        Assert.Empty(schedule.Rest);
    }

    [Theory]
    [InlineData(50_176, 2621, 2048)] // the test CNN's fc1 at bucket_mb 0.01
    [InlineData(409_600, 262_144, 262_144)] // the example CNN's fc1 at bucket_mb 1
    [InlineData(5000, 100, 1024)] // a cap below one block still makes blocks
    public void A_larger_bucket_is_covered_by_contiguous_aligned_pieces(int elements, long cap, int length)
    {
        var pieces = new PieceSchedule([elements], cap, [0]).PiecesOf(0);
        Assert.Equal((elements + length - 1) / length, pieces.Count);
        int next = 0;
        foreach (var (start, count) in pieces)
        {
            Assert.Equal(next, start);
            Assert.True(count > 0 && count <= length);
            Assert.True(start % PieceSchedule.Alignment == 0);
            next = start + count;
        }
        Assert.Equal(elements, next);
    }

    [Fact]
    public void The_rest_goes_in_the_forward_order_without_each_first_piece()
    {
        // Bucket 0 is needed last by the forward (a classifier), bucket 2 first (a stem); both are split.
        var schedule = new PieceSchedule([3000, 500, 2500], pieceElements: 1024, forwardOrder: [9, 5, 0]);
        Assert.Equal([(2, 1), (2, 2), (0, 1), (0, 2)], schedule.Rest);
    }

    [Fact]
    public void Forward_positions_must_match_the_buckets()
    {
        Assert.Throws<ArgumentException>(() => new PieceSchedule([10, 20], 5, [0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PieceSchedule([10], 0, [0]));
    }
}
