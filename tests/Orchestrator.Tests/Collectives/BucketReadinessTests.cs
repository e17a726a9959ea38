using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

/// <summary>The fixed start order of the buckets under overlap and the readiness bookkeeping behind it (pure logic).</summary>
public sealed class BucketReadinessTests
{
    [Fact]
    public void Buckets_start_by_their_first_parameter_latest_first()
    {
        // Layout as GradientBuckets packs it: compressed buckets in parameter order, then the small tensors' bucket.
        var readiness = new BucketReadiness([[0], [2, 4], [5], [1, 3, 6]], parameterCount: 7);
        Assert.Equal([2, 1, 3, 0], readiness.Order);
    }

    [Fact]
    public void Buckets_with_a_parameter_final_only_at_the_end_go_last()
    {
        // Parameter 5 (a classifier called directly, no hook) makes bucket 2 wait for the end: it must not hold back bucket 1.
        var readiness = new BucketReadiness([[0], [2, 4], [5], [1, 3]], 6, late: new HashSet<int> { 5 });
        Assert.Equal([1, 3, 0, 2], readiness.Order);
        Assert.Equal([1], readiness.Final(2).Concat(readiness.Final(4)));
    }

    [Fact]
    public void A_complete_bucket_waits_for_the_buckets_before_it_in_the_order()
    {
        var readiness = new BucketReadiness([[0], [1], [2]], 3); // order 2, 1, 0
        Assert.Empty(readiness.Final(1)); // bucket 1 is complete but bucket 2 goes first
        Assert.Empty(readiness.Final(0));
        Assert.Equal([2, 1, 0], readiness.Final(2));
        Assert.Equal(3, readiness.Started);
        Assert.Empty(readiness.Rest());
    }

    [Fact]
    public void A_bucket_starts_once_its_last_parameter_is_final_and_repeats_are_ignored()
    {
        var readiness = new BucketReadiness([[0, 1], [2, 3]], 4); // order 1, 0
        Assert.Empty(readiness.Final(3));
        Assert.Empty(readiness.Final(3));
        Assert.Equal([1], readiness.Final(2));
        Assert.Empty(readiness.Final(1));
        Assert.Equal([0], readiness.Final(0));
    }

    [Fact]
    public void The_end_of_the_backward_releases_what_is_left_in_order_and_reset_starts_over()
    {
        var readiness = new BucketReadiness([[0], [1], [2]], 4); // parameter 3 is in no bucket (frozen)
        Assert.Equal([2], readiness.Final(2));
        Assert.Empty(readiness.Final(3));
        Assert.Equal([1, 0], readiness.Rest());
        readiness.Reset();
        Assert.Equal(0, readiness.Started);
        Assert.Equal([2, 1, 0], readiness.Rest());
    }

    [Fact]
    public void A_parameter_in_two_buckets_or_out_of_range_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => new BucketReadiness([[0], [0]], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BucketReadiness([[2]], 2));
    }
}

/// <summary>When module calls make parameter gradients final (pure logic; the real backward is checked in BackwardReadinessTests).</summary>
public sealed class ModuleReadinessTests
{
    // root(0) -> seq(1) -> { a(2), block(3) -> { conv(4) } }; parameters: 0 in a, 1 in conv, 2 in root.
    private static ModuleReadiness Tree() => new([-1, 0, 1, 1, 3], [[2], [4], [0]]);

    [Fact]
    public void A_parameter_is_final_when_its_module_call_fired()
    {
        var readiness = Tree();
        readiness.Reset();
        int a = readiness.Called(2, withMarker: true);
        int conv = readiness.Called(4, withMarker: true);
        Assert.Equal([1], readiness.Fired(conv));
        Assert.Equal([0], readiness.Fired(a));
    }

    [Fact]
    public void A_layer_called_directly_is_covered_by_the_innermost_module_called_through_its_hooks()
    {
        var readiness = Tree();
        readiness.Reset();
        int block = readiness.Called(3, withMarker: true); // the block's forward calls conv.forward directly: no hook
        Assert.Equal([1], readiness.Fired(block));
    }

    [Fact]
    public void Every_call_must_fire_and_a_call_without_marker_leaves_the_parameter_to_the_end()
    {
        var readiness = Tree();
        readiness.Reset();
        int first = readiness.Called(4, withMarker: true);
        int second = readiness.Called(4, withMarker: true);
        readiness.Called(2, withMarker: false); // the first layer: its input needs no gradient
        Assert.Empty(readiness.Fired(second));
        Assert.Equal([1], readiness.Fired(first));
        // Parameter 0 (unmarked call) and 2 (the root was never called through hooks) never become final by markers.
        Assert.Equal(3, readiness.Parameters);
    }

    [Fact]
    public void A_parameter_registered_in_two_modules_waits_for_both()
    {
        var readiness = new ModuleReadiness([-1, 0, 0], [[1, 2]]);
        readiness.Reset();
        int one = readiness.Called(1, withMarker: true);
        int two = readiness.Called(2, withMarker: true);
        Assert.Empty(readiness.Fired(two));
        Assert.Equal([0], readiness.Fired(one));
    }

    [Fact]
    public void No_call_may_come_after_the_backward_began_until_reset()
    {
        var readiness = Tree();
        readiness.Reset();
        int a = readiness.Called(2, withMarker: true);
        readiness.Fired(a);
        Assert.Throws<InvalidOperationException>(() => readiness.Called(2, withMarker: true));
        readiness.Reset();
        readiness.Called(2, withMarker: true);
    }

    [Fact]
    public void Parents_must_form_a_tree()
    {
        Assert.Throws<ArgumentException>(() => new ModuleReadiness([1, 0], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModuleReadiness([-1], [[3]]));
    }
}
