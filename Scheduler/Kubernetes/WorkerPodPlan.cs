using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>One worker pod of a job: its name (also its host and node name) and the consecutive ranks it runs.</summary>
public sealed record WorkerPod(string Name, int Ranks);

/// <summary>
/// Which worker pods a gang needs: ceil(workers / ranks per pod) pods, every one full but the last, named
/// <c>JOB-w0</c>, <c>JOB-w1</c>, ... in rank order. Pure. The names are stable across launches, so a relaunch or a rescale
/// keeps the pods it still needs and adds or deletes only the difference. A name is a pod's host name and node name, so it is
/// kept to 63 characters: a long job name is cut and a short hash of the whole name keeps it unique.
/// </summary>
public static class WorkerPodPlan
{
    /// <summary>The longest name a pod gets (a host name label).</summary>
    public const int MaxNameLength = 63;

    /// <summary>The pods for <paramref name="workers"/> ranks, <paramref name="ranksPerPod"/> on each but the last.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Workers or ranks per pod below 1.</exception>
    public static IReadOnlyList<WorkerPod> For(string jobId, int workers, int ranksPerPod)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranksPerPod, 1);
        var pods = new List<WorkerPod>();
        for (int first = 0, index = 0; first < workers; first += ranksPerPod, index++)
            pods.Add(new WorkerPod(PodName(jobId, index), Math.Min(ranksPerPod, workers - first)));
        return pods;
    }

    /// <summary>The name of worker pod <paramref name="index"/> of <paramref name="jobId"/>.</summary>
    public static string PodName(string jobId, int index) => $"{Prefix(jobId)}-w{index.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The name of the job's headless Service and owner ConfigMap (the pods' DNS subdomain).</summary>
    public static string GroupName(string jobId) => $"{Prefix(jobId)}-workers";

    /// <summary>The job name, or its cut with a hash when a pod name built from it would pass 63 characters.</summary>
    private static string Prefix(string jobId)
    {
        const int room = MaxNameLength - 8; // "-workers" is the longest suffix; "-w" + index stays below it up to 10^6 pods
        if (jobId.Length <= room) return jobId;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(jobId)))[..6];
        return $"{jobId[..(room - 7)].TrimEnd('-')}-{hash}";
    }
}
