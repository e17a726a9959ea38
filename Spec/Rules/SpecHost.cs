using System.Globalization;

namespace Orchestrator.Spec;

/// <summary>
/// The machine a spec is checked for: its cores bound <c>training.threads</c>, its available memory (when known) the
/// <see cref="MemoryEstimate"/> of the job's workers. A value, so validation stays a pure function of it.
/// </summary>
/// <param name="ProcessorCount">Cores the workers share.</param>
/// <param name="AvailableMemoryBytes">Memory the job's workers may use; null skips the memory rule.</param>
public sealed record SpecHost(int ProcessorCount, long? AvailableMemoryBytes)
{
    /// <summary>This machine's cores; memory not checked (specs parsed from text, specs built in code).</summary>
    public static SpecHost CoresOnly => new(Environment.ProcessorCount, null);

    /// <summary>
    /// This machine's cores and the memory available now: <c>MemAvailable</c> of <c>/proc/meminfo</c>, capped by the
    /// GC's view (which honours a container's limit); the GC's figure alone where /proc/meminfo cannot be read.
    /// </summary>
    public static SpecHost Measure()
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (ReadMemAvailable() is { } fromProc && (available <= 0 || fromProc < available))
            available = fromProc;
        return new SpecHost(Environment.ProcessorCount, available > 0 ? available : null);
    }

    private static long? ReadMemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                // "MemAvailable:   24224872 kB"
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    continue;
                var fields = line["MemAvailable:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length == 2 && fields[1] == "kB"
                    && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kib) && kib is > 0 and < long.MaxValue / 1024)
                    return kib * 1024;
                return null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
        }
        return null;
    }
}
