using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>Something that happened to a job: what <see cref="JobLifecycle.Decide"/> reacts to. A closed set of records.</summary>
public abstract record JobEvent
{
    private JobEvent() { }

    /// <summary>A client submitted the job (creates it in Pending and asks for its slots).</summary>
    public sealed record Submitted(JobSubmission Submission) : JobEvent;

    /// <summary>The scheduler granted the gang's slots (at submission, when a queued job's turn came, or after a rescale's stop).</summary>
    public sealed record SlotsGranted : JobEvent;

    /// <summary>The scheduler refused the gang for good (e.g. more workers than the cluster has slots).</summary>
    public sealed record NotAdmitted(string Reason) : JobEvent;

    /// <summary>Launch <paramref name="Launch"/> started: the launcher's process exists.</summary>
    /// <paramref name="Node"/>: the node whose silo started it (null on a silo that offers none).
    public sealed record GangStarted(int Launch, int ProcessId, string? Node = null) : JobEvent;

    /// <summary>Launch <paramref name="Launch"/> could not start.</summary>
    public sealed record LaunchFailed(int Launch, string Reason) : JobEvent;

    /// <summary>The gang of launch <paramref name="Launch"/> ended by itself with <paramref name="ExitCode"/>.</summary>
    public sealed record GangExited(int Launch, int ExitCode, GangExitDetail? Detail = null) : JobEvent;

    /// <summary>The watch timer ticked while a gang runs: progress seen so far, and for an adopted gang what its files say.</summary>
    public sealed record WatchTick(GangProgress Progress, AdoptedGangReport? Adopted) : JobEvent;

    /// <summary>A user asked to run the job on <paramref name="Workers"/> workers.</summary>
    public sealed record RescaleRequested(int Workers) : JobEvent;

    /// <summary>A user cancelled the job.</summary>
    public sealed record Cancelled : JobEvent;

    /// <summary>The job's grain activated (first call, or on another silo after failover); <paramref name="GangRunsHere"/> says
    /// whether this silo's runner holds the current gang (false after failover: the grain adopts it).</summary>
    public sealed record Activated(bool GangRunsHere) : JobEvent;

    /// <summary>A restart's backoff has passed; <paramref name="GangRunsHere"/> as for <see cref="Activated"/>.</summary>
    public sealed record RelaunchDue(bool GangRunsHere) : JobEvent;

    /// <summary>A machine that ran part of the current gang left the cluster: the launch is lost like a dead gang (a job
    /// already relaunching ignores it: its next launch is placed on live nodes).</summary>
    public sealed record NodeLost(string Node) : JobEvent;

    /// <summary>The next launch's nodes are gone and the live nodes cannot hold the gang now: the job waits (Pending, first in
    /// the queue) until they can.</summary>
    public sealed record WaitingForCapacity(string Reason) : JobEvent;

    /// <summary>The next launch's nodes are gone and the live nodes hold only <paramref name="Workers"/> of the gang's workers:
    /// the job opted into shrinking (<c>scaling.on_node_loss: shrink</c>) and goes on with that many.</summary>
    public sealed record Shrunk(int Workers, string Reason) : JobEvent;
}

/// <summary>What the files of a gang started by another silo say at a watch tick.</summary>
public abstract record AdoptedGangReport
{
    private AdoptedGangReport() { }

    /// <summary>Its supervisor is alive and no exit code is recorded.</summary>
    public sealed record Alive : AdoptedGangReport;

    /// <summary>Its supervisor recorded <paramref name="ExitCode"/>.</summary>
    public sealed record Exited(int ExitCode, GangExitDetail? Detail = null) : AdoptedGangReport;

    /// <summary>Its supervisor is gone without recording a code.</summary>
    public sealed record Vanished : AdoptedGangReport;
}
