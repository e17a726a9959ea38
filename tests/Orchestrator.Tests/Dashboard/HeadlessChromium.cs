using Orchestrator.Bench.Drivers;
using Orchestrator.Tests.ControlPlane;

namespace Orchestrator.Tests.Dashboard;

/// <summary>
/// Debian's <c>chromium</c> without a display: loads a page, runs its scripts for a stretch of virtual time (the page's timers
/// and fetches advance without waiting in real time) and returns the rendered DOM. Each load has its own profile directory
/// under the test's directory, which also holds chromium's config and cache (XDG_CONFIG_HOME, XDG_CACHE_HOME): so nothing is
/// written to the user's home, and every process of the load names that directory, the crash handler too (it detaches
/// from the browser and keeps its database under the config directory); all of them are killed afterwards, also when the
/// load fails or times out.
/// </summary>
internal static class HeadlessChromium
{
    public const string Binary = "/usr/bin/chromium";

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    /// <summary>The DOM of <paramref name="url"/> after <paramref name="virtualMilliseconds"/> of the page's (virtual) time.</summary>
    public static string DumpDom(string directory, string url, int virtualMilliseconds = 8000) =>
        Run(directory, ["--dump-dom", url], virtualMilliseconds);

    /// <summary>Saves a PNG of <paramref name="url"/> at <paramref name="width"/> x <paramref name="height"/> to <paramref name="png"/>.</summary>
    public static void Screenshot(string directory, string url, string png, int width, int height, int virtualMilliseconds = 8000) =>
        Run(directory, [$"--screenshot={png}", $"--window-size={width},{height}", "--hide-scrollbars", url], virtualMilliseconds);

    private static string Run(string directory, string[] arguments, int virtualMilliseconds)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is not installed: apt-get install chromium (Debian's package; CI installs it in .ci/run)");
        var profile = Path.Combine(directory, $"chromium-profile-{Guid.NewGuid():N}");
        try
        {
            var result = ChildProcess.Run(Binary,
                ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--mute-audio",
                 $"--user-data-dir={profile}", $"--virtual-time-budget={virtualMilliseconds}", .. arguments],
                Limit, "apt-get install chromium",
                environment: new Dictionary<string, string?>
                {
                    ["XDG_CONFIG_HOME"] = Path.Combine(profile, "config"),
                    ["XDG_CACHE_HOME"] = Path.Combine(profile, "cache"),
                });
            Assert.False(result.TimedOut, $"chromium did not finish within {Limit.TotalSeconds:0} s:\n{result.Stderr}");
            Assert.True(result.ExitCode == 0, $"chromium exited with {result.ExitCode}:\n{result.Stderr}");
            return result.Stdout;
        }
        finally
        {
            ProcessTree.KillMentioning(profile); // renderers, zygotes, GPU process and crash handler name it too
        }
    }
}
