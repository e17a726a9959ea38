using System.Runtime.InteropServices;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// A supervised gang this silo did not start (it took the job over from a silo that died). It is found through
/// <c>/proc</c> by its exit-code file, which only its supervisor names on its command line, and stopped by killing the
/// supervisor's process group (it leads its own session) and every process that names the file. Linux, same machine
/// only: the <c>local-mpi</c> launcher's world.
/// </summary>
public static class AdoptedGang
{
    private const int SigKill = 9;

    /// <summary>Process ids of the live processes whose command line contains <paramref name="exitCodePath"/>.</summary>
    public static IReadOnlyList<int> Find(string exitCodePath)
    {
        var found = new List<int>();
        if (!Directory.Exists("/proc")) return found;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                if (cmdline.Contains(exitCodePath, StringComparer.Ordinal) && !stat.Contains(") Z ", StringComparison.Ordinal))
                    found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }

    /// <summary>Whether the gang's supervisor still runs.</summary>
    public static bool IsAlive(string exitCodePath) => Find(exitCodePath).Count > 0;

    /// <summary>
    /// Kills the gang: each supervisor's process group (mpirun, the hydra proxies) and every descendant (hydra puts each
    /// rank in a group of its own); returns how many supervisors were found.
    /// </summary>
    public static int Kill(string exitCodePath)
    {
        var supervisors = Find(exitCodePath);
        if (supervisors.Count == 0) return 0;
        var children = ChildrenByParent();
        var victims = new List<int>();
        var pending = new Stack<int>(supervisors);
        while (pending.Count > 0)
        {
            var pid = pending.Pop();
            if (victims.Contains(pid)) continue;
            victims.Add(pid);
            foreach (var child in children.GetValueOrDefault(pid, [])) pending.Push(child);
        }
        foreach (var pid in supervisors) _ = kill(-pid, SigKill); // the supervisor leads its session's group
        foreach (var pid in victims) _ = kill(pid, SigKill);
        return supervisors.Count;
    }

    private static Dictionary<int, List<int>> ChildrenByParent()
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                // stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so parse after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length > 1 && int.TryParse(fields[1], out var parent))
                {
                    if (!children.TryGetValue(parent, out var list)) children[parent] = list = [];
                    list.Add(pid);
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return children;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
