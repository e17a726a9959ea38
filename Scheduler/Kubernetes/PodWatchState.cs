namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>What the pod watch loop does next (see <see cref="PodWatchState"/>).</summary>
/// <param name="Relist">List the pods (a full picture and a fresh resourceVersion) before watching.</param>
/// <param name="From">The resourceVersion the watch starts after (when not relisting).</param>
/// <param name="Delay">Wait this long first (after errors; zero otherwise).</param>
public sealed record PodWatchStep(bool Relist, string? From, TimeSpan Delay);

/// <summary>
/// The bookkeeping of a list-then-watch loop over a job's pods (pure, tested directly): list once for the full picture and
/// its resourceVersion; watch from there, remembering the resourceVersion of every event (bookmarks included); when the
/// stream ends, watch again from the last one seen (no event is lost, none is replayed); when the server answers 410 Gone
/// (that version is compacted away) list again, since events were missed; other errors retry with doubling delay
/// (0.5 s up to 10 s), reset by the next success.
/// </summary>
public sealed class PodWatchState
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(10);

    private bool relist = true;
    private int failures;

    /// <summary>The newest resourceVersion seen (list or event); null before the first list and after a 410.</summary>
    public string? ResourceVersion { get; private set; }

    /// <summary>How many times the pods were listed (the first list included).</summary>
    public int Lists { get; private set; }

    /// <summary>How many 410 Gone answers forced a new list.</summary>
    public int GoneCount { get; private set; }

    /// <summary>What to do now.</summary>
    public PodWatchStep Next() => new(relist || ResourceVersion is null, relist ? null : ResourceVersion, Delay());

    /// <summary>A list answered with <paramref name="resourceVersion"/>.</summary>
    public void Listed(string? resourceVersion)
    {
        Lists++;
        ResourceVersion = resourceVersion;
        relist = resourceVersion is null; // a server that gives none: list again rather than watch from nowhere
        failures = 0;
    }

    /// <summary>A watch event (ADDED, MODIFIED, DELETED or BOOKMARK) of an object at <paramref name="resourceVersion"/>.</summary>
    public void Observed(string? resourceVersion)
    {
        if (!string.IsNullOrEmpty(resourceVersion)) ResourceVersion = resourceVersion;
        failures = 0;
    }

    /// <summary>The watch stream ended normally (server timeout): watch again from the last version seen.</summary>
    public void Closed() { }

    /// <summary>410 Gone: the version is too old; events were missed, so list again.</summary>
    public void Gone()
    {
        GoneCount++;
        ResourceVersion = null;
        relist = true;
    }

    /// <summary>Any other failure (connection refused, 5xx): retry the same step after a delay.</summary>
    public void Failed() => failures++;

    private TimeSpan Delay()
    {
        if (failures == 0) return TimeSpan.Zero;
        var delay = FirstDelay * Math.Pow(2, Math.Min(failures - 1, 10));
        return delay < MaxDelay ? delay : MaxDelay;
    }
}
