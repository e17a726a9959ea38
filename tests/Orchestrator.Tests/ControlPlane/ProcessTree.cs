using System.Runtime.InteropServices;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>Test cleanup of processes that left their parent's tree (gangs in their own session, orphans of a killed silo).</summary>
internal static class ProcessTree
{
    private const int SigKill = 9;

    /// <summary>Process ids whose command line contains <paramref name="fragment"/> (zombies excluded).</summary>
    public static List<int> Mentioning(string fragment)
    {
        var found = new List<int>();
        foreach (var (pid, _, cmdline) in All())
            if (pid != Environment.ProcessId && cmdline.Contains(fragment, StringComparison.Ordinal)) found.Add(pid);
        return found;
    }

    /// <summary>SIGKILLs every process mentioning <paramref name="fragment"/> and all of their descendants.</summary>
    public static void KillMentioning(string fragment)
    {
        for (var round = 0; round < 3; round++)
        {
            var all = All();
            var roots = all.Where(p => p.Pid != Environment.ProcessId && p.Cmdline.Contains(fragment, StringComparison.Ordinal)).Select(p => p.Pid).ToList();
            if (roots.Count == 0) return;
            var victims = new HashSet<int>(roots);
            bool grew;
            do
            {
                grew = false;
                foreach (var (pid, parent, _) in all)
                    if (victims.Contains(parent) && pid != Environment.ProcessId && victims.Add(pid)) grew = true;
            }
            while (grew);
            foreach (var pid in victims) _ = kill(pid, SigKill);
            Thread.Sleep(200);
        }
    }

    /// <summary>The command line of <paramref name="pid"/> (arguments separated by spaces), or "" when it is gone.</summary>
    public static string CommandOf(int pid) => All().FirstOrDefault(p => p.Pid == pid).Cmdline ?? "";

    /// <summary>The parent process id of <paramref name="pid"/>, or 0 when it is gone.</summary>
    public static int ParentOf(int pid) => All().FirstOrDefault(p => p.Pid == pid).Parent;

    private static List<(int Pid, int Parent, string Cmdline)> All()
    {
        var list = new List<(int, int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] == "Z") continue;
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                list.Add((pid, int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), cmdline));
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return list;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
