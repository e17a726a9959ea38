using System.Runtime.InteropServices;

namespace Orchestrator.Trainer.Collectives.Native;

/// <summary>
/// Sets UCX's rendezvous threshold in this process's native environment, as <see cref="UcxRendezvousPolicy"/> decides,
/// before MPI starts (UCX reads its variables with <c>getenv</c> in <c>MPI_Init</c>; .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach <c>getenv</c> on Linux).
/// </summary>
internal static partial class UcxEnvironment
{
    /// <summary>Where Linux lists RDMA devices (InfiniBand, RoCE, iWARP).</summary>
    private const string RdmaDevices = "/sys/class/infiniband";

    /// <summary>Applies the policy; returns the threshold set, or null when nothing was changed.</summary>
    public static string? ApplyRendezvousPolicy()
    {
        if (!OperatingSystem.IsLinux()) return null;
        var threshold = UcxRendezvousPolicy.ThresholdFor(
            Environment.GetEnvironmentVariable(UcxRendezvousPolicy.Variable),
            Environment.GetEnvironmentVariable("UCX_TLS"),
            Directory.Exists(RdmaDevices) && Directory.EnumerateFileSystemEntries(RdmaDevices).Any());
        if (threshold is null) return null;
        return SetIfUnset(UcxRendezvousPolicy.Variable, threshold) ? threshold : null;
    }

    /// <summary>Sets <paramref name="name"/> in the native environment unless it is there already; false when it was.</summary>
    internal static bool SetIfUnset(string name, string value)
    {
        if (Get(name) is not null) return false;
        return setenv(name, value, 0) == 0;
    }

    /// <summary>The native environment's value of <paramref name="name"/>, or null.</summary>
    internal static string? Get(string name) => Marshal.PtrToStringUTF8(getenv(name));

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr getenv(string name);
}
