using System.Runtime.CompilerServices;
using Orchestrator.Trainer.Devices;

namespace Orchestrator.Tests.Training;

/// <summary><see cref="FinalizerDrain"/>: when it drains, and that a drain frees what only a finalizer frees.</summary>
public sealed class FinalizerDrainTests
{
    [Fact]
    public void Drains_once_the_interval_of_step_time_has_gathered_then_counts_again()
    {
        int drains = 0;
        var drain = new FinalizerDrain(() => drains++);
        var third = FinalizerDrain.MinimumInterval / 3;
        drain.AfterStep(third);
        drain.AfterStep(third);
        Assert.Equal(0, drains); // two thirds of the interval
        drain.AfterStep(third + TimeSpan.FromTicks(1));
        Assert.Equal(1, drains);
        drain.AfterStep(third);
        Assert.Equal(1, drains); // the count started over
        drain.AfterStep(FinalizerDrain.MinimumInterval * 10);
        drain.AfterStep(FinalizerDrain.MinimumInterval);
        Assert.Equal(3, drains); // a long step drains once, not ten times
    }

    [Fact]
    public void Now_drains_whatever_was_gathered_and_restarts_the_count()
    {
        int drains = 0;
        var drain = new FinalizerDrain(() => drains++);
        drain.AfterStep(FinalizerDrain.MinimumInterval / 2);
        drain.Now();
        drain.AfterStep(FinalizerDrain.MinimumInterval / 2);
        Assert.Equal(1, drains);
    }

    [Fact]
    public void A_costly_drain_waits_for_a_hundred_times_its_cost_of_step_time()
    {
        const int sleepMs = 3;
        int drains = 0;
        var drain = new FinalizerDrain(() => { drains++; Thread.Sleep(sleepMs); });
        drain.AfterStep(FinalizerDrain.MinimumInterval);
        Assert.Equal(1, drains);
        Assert.True(drain.Interval >= TimeSpan.FromMilliseconds(sleepMs * FinalizerDrain.CostMultiple), $"interval {drain.Interval}");
        drain.AfterStep(TimeSpan.FromMilliseconds(sleepMs * FinalizerDrain.CostMultiple - 1));
        Assert.Equal(1, drains); // below 100 x the (at least 3 ms) cost
        drain.AfterStep(TimeSpan.FromHours(1));
        Assert.Equal(2, drains);
    }

    [Fact]
    public void A_disabled_drain_never_drains()
    {
        int drains = 0;
        var drain = new FinalizerDrain(() => drains++) { Enabled = false };
        drain.AfterStep(FinalizerDrain.MinimumInterval * 3);
        drain.Now();
        Assert.Equal(0, drains);
    }

    [Fact]
    public void The_real_drain_runs_the_finalizer_of_an_object_nobody_holds()
    {
        using var finalized = new ManualResetEventSlim();
        Abandon(finalized);
        new FinalizerDrain().Now();
        // Now() waits for the pending finalizers, so the flag is set when it returns (no waiting here).
        Assert.True(finalized.IsSet);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Abandon(ManualResetEventSlim signal) => _ = new Finalizable(signal);

    private sealed class Finalizable(ManualResetEventSlim signal)
    {
        ~Finalizable() => signal.Set();
    }
}
