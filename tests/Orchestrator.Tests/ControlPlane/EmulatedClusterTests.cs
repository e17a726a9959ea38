using System.Globalization;
using System.Text.RegularExpressions;
using Orchestrator.Silos.Emulation;
using Orchestrator.Tests.Cli;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>A fact that builds network namespaces: skipped, saying why, only where the tests do not run as root (CI does).</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root for network namespaces (CI runs as root)";
        else if (!RedisServer.IsInstalled)
            Skip = $"{RedisServer.Binary} is not installed: apt-get install redis-server";
    }
}

/// <summary>
/// Jobs on an emulated cluster of three machines (<c>cluster emulate up</c>: a namespace, host name and shaped link per node,
/// Redis, one silo per node): ranks really run on different nodes (their own host names, traffic on their links), Hydra's
/// proxies are started through the silos, a gang larger than the cluster is refused, a dead node gets no ranks, cancel leaves
/// no process behind on any node, and <c>down</c> leaves nothing.
/// </summary>
[Collection(EmulatedClusterCollection.Name)]
public sealed class EmulatedClusterTests
{
    private static readonly TimeSpan JobLimit = TimeSpan.FromSeconds(240);

    [RootFact]
    public void Gangs_span_nodes_through_the_control_plane_and_the_emulator_leaves_nothing_behind()
    {
        clientNode = 1;
        using var scratch = new TempDirectory();
        var dir = Path.Combine(scratch.Path, "emu");
        var spec = Path.Combine(scratch.Path, "tiny.yaml");
        File.WriteAllText(spec, TinySpec);
        try
        {
            UpCluster(scratch.Path, dir, nodes: 3, slots: 2);

            // 2 ranks, one per node, then 3: each rank on its own host, traffic on the links of the nodes that ran ranks.
            var before = Enumerable.Range(0, 3).Select(TxBytes).ToArray();
            var two = RunJob(scratch.Path, spec, "span-two", "workers=2", "placement.ranks_per_node=1");
            var afterTwo = Enumerable.Range(0, 3).Select(TxBytes).ToArray();
            Assert.Equal(2, HostsOfRanks(two).Distinct().Count());
            var used = HostsOfRanks(two).Select(h => int.Parse(h[4..], CultureInfo.InvariantCulture) - 1).ToHashSet();
            var idle = Enumerable.Range(0, 3).Single(n => !used.Contains(n));
            foreach (var node in used)
                Assert.True(afterTwo[node] - before[node] > afterTwo[idle] - before[idle] + 500_000,
                    $"node{node + 1} sent {afterTwo[node] - before[node]} bytes, idle node{idle + 1} {afterTwo[idle] - before[idle]}");
            Assert.Contains("# placement: ", two);
            Assert.Contains("node-exec, no ssh", two);
            Assert.Contains("every message is sent eagerly (UCX_RNDV_THRESH=inf", two); // the nodes' worker_env says UCX_TLS=tcp,self

            var three = RunJob(scratch.Path, spec, "span-three", "workers=3", "placement.policy=spread");
            Assert.Equal(["node1", "node2", "node3"], HostsOfRanks(three).Order());

            // A gang no placement can hold is refused at once, naming what is short.
            var huge = Exec(scratch.Path, "submit", spec, "--set", "name=too-big", "--set", "workers=8");
            Assert.NotEqual(0, huge.ExitCode);
            Assert.Contains("the cluster could never run this job: the gang needs 8 ranks; the 3 live nodes have 6 free slots", huge.Output);
            var wide = Exec(scratch.Path, "submit", spec, "--set", "name=too-wide", "--set", "workers=6", "--set", "placement.ranks_per_node=3");
            Assert.Contains("placement.ranks_per_node 3 is more than any node has (the largest has 2 slots)", wide.Output);

            // Cancel: no rank, proxy or mpiexec is left in any node.
            var submitted = Exec(scratch.Path, "submit", spec, "--set", "name=cancelled", "--set", "workers=3", "--set", "placement.ranks_per_node=1",
                "--set", "training.epochs=50");
            Assert.True(submitted.ExitCode == 0, submitted.ToString());
            WaitFor(() => Regex.IsMatch(Exec(scratch.Path, "logs", "cancelled").Output, @"step \d+/\d+"), "the cancelled job to train");
            Assert.Equal(0, Exec(scratch.Path, "cancel", "cancelled").ExitCode);
            WaitFor(() => JobProcesses().Count == 0, "the cancelled job's processes to end on every node");

            // A node lost mid-run (its silo and every process on it killed): the job restarts from its newest checkpoint on the
            // live nodes and succeeds, every sample once per epoch.
            var lossy = Exec(scratch.Path, "submit", spec, "--set", "name=lossy", "--set", "workers=2", "--set", "placement.policy=spread",
                "--set", "training.epochs=12", "--set", "fault.restart_backoff_seconds=1");
            Assert.True(lossy.ExitCode == 0, lossy.ToString());
            WaitFor(() => Regex.IsMatch(Exec(scratch.Path, "logs", "lossy", "--tail", "0").Output, @"epoch 2/12 step \d+/"), "the job to reach epoch 2");
            var victim = HostsOfRanks(Exec(scratch.Path, "logs", "lossy", "--tail", "0").Output)[1]; // rank 1's node
            var victimIndex = int.Parse(victim[4..], CultureInfo.InvariantCulture) - 1;
            KillNode(victimIndex);
            clientNode = victimIndex == 0 ? 2 : 1;
            var watch = CliRunner.Run(scratch.Path, ["cluster", "emulate", "exec", "--node", $"{clientNode}", "--", "status", "lossy", "--watch"], JobLimit);
            var lossLog = Exec(scratch.Path, "logs", "lossy", "--tail", "0").Output;
            Assert.True(watch.ExitCode == 0, $"{watch}\n{lossLog}");
            Assert.Contains("resumed from", lossLog);
            var lastLaunch = lossLog[lossLog.LastIndexOf("# placement: ", StringComparison.Ordinal)..];
            Assert.DoesNotContain(victim, HostsOfRanks(lastLaunch));
            Assert.Equal(2, HostsOfRanks(lastLaunch).Distinct().Count());
            AssertEachSampleOncePerEpoch(Path.Combine(dir, "runs", "lossy"), size: 1024, epochs: 12);

            // A dead node gets no ranks, even with free slots and the spread policy.
            WaitFor(() => Exec(scratch.Path, "status").Output.Contains("nodes: 2 alive, 1 down", StringComparison.Ordinal), "the lost node seen down");
            var survivors = RunJob(scratch.Path, spec, "after-loss", "workers=2", "placement.policy=spread");
            Assert.DoesNotContain(victim, HostsOfRanks(survivors));
            Assert.Equal(2, HostsOfRanks(survivors).Distinct().Count());
        }
        finally
        {
            var down = CliRunner.Run(scratch.Path, ["cluster", "emulate", "down", "--dir", dir]);
            Assert.True(down.ExitCode == 0, down.ToString());
        }
        Assert.Empty(NetworkFabric.Namespaces(EmulatedCluster.Prefix));
        Assert.False(Directory.Exists(dir));
        Assert.Empty(ProcessTree.Mentioning(dir));
    }

    [RootFact]
    public void A_silo_death_is_survived_by_adoption_and_a_job_scales_across_nodes_then_shrinks_on_node_loss()
    {
        clientNode = 1;
        using var scratch = new TempDirectory();
        var dir = Path.Combine(scratch.Path, "emu");
        var spec = Path.Combine(scratch.Path, "tiny.yaml");
        File.WriteAllText(spec, TinySpec);
        try
        {
            UpCluster(scratch.Path, dir, nodes: 4, slots: 1);

            // Adoption across machines: the silo that started a gang dies (only its silo process: its gang's supervisor and
            // mpiexec live on), its gang's ranks run on other nodes. A surviving silo takes the job over and the same gang
            // finishes it. Where the job grain (and so mpiexec) lands is Orleans' choice; it prefers the silo the client
            // calls, so the client talks to node 4 while pack places the 2 ranks on node1 and node2 (ties go by name).
            // Retried until the launching node holds no rank.
            clientNode = 4;
            string? adopted = null;
            int launcher = -1;
            for (int attempt = 1; attempt <= 12 && adopted is null; attempt++)
            {
                var name = $"adopt-{attempt}";
                var submit = Exec(scratch.Path, "submit", spec, "--set", $"name={name}", "--set", "workers=2", "--set", "placement.ranks_per_node=1",
                    "--set", "training.epochs=20");
                Assert.True(submit.ExitCode == 0, submit.ToString());
                WaitFor(() => Regex.IsMatch(Exec(scratch.Path, "logs", name, "--tail", "0").Output, @"epoch 1/20 step \d+/"), $"{name} to train");
                var node = LaunchNode(Exec(scratch.Path, "status", name).Output);
                if (!HostsOfRanks(Exec(scratch.Path, "logs", name, "--tail", "0").Output).Contains(node))
                {
                    adopted = name;
                    launcher = int.Parse(node[4..], CultureInfo.InvariantCulture) - 1;
                    break;
                }
                var cancel = Exec(scratch.Path, "cancel", name);
                Assert.True(cancel.ExitCode == 0, cancel.ToString());
                WaitFor(() => JobProcesses().Count == 0, $"{name}'s processes to end");
            }
            Assert.True(adopted is not null, "the job grain landed on a node with ranks in 12 attempts");
            KillSilo(launcher);
            clientNode = Enumerable.Range(1, 4).First(n => n != launcher + 1);
            var adoptedWatch = CliRunner.Run(scratch.Path, ["cluster", "emulate", "exec", "--node", $"{clientNode}", "--", "status", adopted!, "--watch"], JobLimit);
            var adoptedLog = Exec(scratch.Path, "logs", adopted!, "--tail", "0").Output;
            Assert.True(adoptedWatch.ExitCode == 0, $"{adoptedWatch}\n{adoptedLog}");
            // The first gang finished the job: no relaunch.
            Assert.True(Regex.Matches(adoptedLog, "# placement: ").Count == 1, $"relaunched instead of adopted:\n{adoptedLog}\n{Exec(scratch.Path, "status", adopted!).Output}");
            Assert.DoesNotContain("resumed from", adoptedLog);

            // Scale across nodes: 2 ranks on 2 nodes grow to 3 ranks on the 3 live nodes; then a node with a rank dies and the
            // job, which opted into shrinking, goes on with 2 workers on the other 2 nodes. Every sample once per epoch throughout.
            WaitFor(() => Exec(scratch.Path, "status").Output.Contains("nodes: 3 alive, 1 down", StringComparison.Ordinal), "the dead silo's node seen down");
            var elastic = Exec(scratch.Path, "submit", spec, "--set", "name=elastic", "--set", "workers=2", "--set", "placement.ranks_per_node=1",
                "--set", "training.epochs=12", "--set", "scaling.on_node_loss=shrink", "--set", "scaling.min_workers=2", "--set", "fault.restart_backoff_seconds=1");
            Assert.True(elastic.ExitCode == 0, elastic.ToString());
            WaitFor(() => Regex.IsMatch(Exec(scratch.Path, "logs", "elastic", "--tail", "0").Output, @"epoch 2/12 step \d+/"), "elastic to reach epoch 2");
            var scale = Exec(scratch.Path, "scale", "elastic", "--workers", "3");
            Assert.True(scale.ExitCode == 0, scale.ToString());
            WaitFor(() => Regex.IsMatch(LastLaunch(Exec(scratch.Path, "logs", "elastic", "--tail", "0").Output), @"rank 2 of 3 on host[\s\S]*step \d+/"),
                "elastic to train on 3 workers");
            var threeRanks = HostsOfRanks(LastLaunch(Exec(scratch.Path, "logs", "elastic", "--tail", "0").Output));
            Assert.Equal(3, threeRanks.Distinct().Count());
            var elasticLauncher = LaunchNode(Exec(scratch.Path, "status", "elastic").Output);
            var victim = threeRanks.First(h => h != elasticLauncher && h != $"node{clientNode}");
            KillNode(int.Parse(victim[4..], CultureInfo.InvariantCulture) - 1);
            var watch = CliRunner.Run(scratch.Path, ["cluster", "emulate", "exec", "--node", $"{clientNode}", "--", "status", "elastic", "--watch"], JobLimit);
            var log = Exec(scratch.Path, "logs", "elastic", "--tail", "0").Output;
            Assert.True(watch.ExitCode == 0, $"{watch}\n{log}");
            Assert.Contains("shrink 3 -> 2 workers", watch.Output);
            var last = HostsOfRanks(LastLaunch(log));
            Assert.Equal(2, last.Count);
            Assert.Equal(2, last.Distinct().Count());
            Assert.DoesNotContain(victim, last);
            AssertEachSampleOncePerEpoch(Path.Combine(dir, "runs", "elastic"), size: 1024, epochs: 12);
        }
        finally
        {
            var down = CliRunner.Run(scratch.Path, ["cluster", "emulate", "down", "--dir", dir]);
            Assert.True(down.ExitCode == 0, down.ToString());
        }
        Assert.Empty(NetworkFabric.Namespaces(EmulatedCluster.Prefix));
    }

    /// <summary>
    /// <c>cluster emulate up</c> with sample recording and 50 ms slower steps in every rank (so a node loss lands mid-run),
    /// then waits until the scheduler sees every node alive: each silo registered its node before <c>up</c> returned, but the
    /// scheduler's silo may see the last one join a moment later.
    /// </summary>
    private static void UpCluster(string cwd, string dir, int nodes, int slots)
    {
        var up = CliRunner.Run(cwd, ["cluster", "emulate", "up", "--nodes", $"{nodes}", "--slots", $"{slots}", "--bandwidth", "1gbit", "--dir", dir,
            "--worker-env", $"{SampleLog.Variable}=1", "--worker-env", $"{Orchestrator.Trainer.Training.WorkerTestHooks.StepDelayVariable}=50"]);
        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.Contains($"{nodes} silos up", up.Output);
        WaitFor(() => Exec(cwd, "status").Output.Contains($"nodes: {nodes} alive, 0 down", StringComparison.Ordinal), $"all {nodes} nodes alive");
    }

    /// <summary>The node whose silo started the job's current gang, from <c>status JOB</c>'s history.</summary>
    private static string LaunchNode(string status) =>
        Regex.Matches(status, @"launcher pid \d+ on (\S+?)\)") is { Count: > 0 } found ? found[^1].Groups[1].Value : throw new Xunit.Sdk.XunitException($"no launch node in:\n{status}");

    /// <summary>The log from the newest launch's placement line on.</summary>
    private static string LastLaunch(string log) => log[Math.Max(0, log.LastIndexOf("# placement: ", StringComparison.Ordinal))..];

    /// <summary>Kills only node <paramref name="node"/>'s silo process (SIGKILL): what it started lives on.</summary>
    private static void KillSilo(int node)
    {
        var silo = NetworkFabric.ProcessesOf(EmulatedCluster.NodeNamespace(node)).Single(pid =>
        {
            try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains("\0up\0--config\0", StringComparison.Ordinal); }
            catch (IOException) { return false; }
        });
        System.Diagnostics.Process.GetProcessById(silo).Kill();
    }

    private const string TinySpec = """
        name: tiny
        workers: 2
        model: { kind: cnn, width: 16, norm: batch }
        data: { dataset: fashion-mnist, root: /usr/share/datasets/fashion-mnist, train_subset: 1024, test_subset: 200 }
        training:
          epochs: 1
          global_batch: 96
          optimizer: { kind: sgd, lr: 0.02, momentum: 0.9 }
          threads: 1
        metrics: { port: 0 }
        checkpoint: { every_steps: 5, keep: 2 }
        """;

    /// <summary>The node whose gateway the client commands use (moves off a node the test killed).</summary>
    private static int clientNode = 1;

    private static CliResult Exec(string cwd, params string[] args) => CliRunner.Run(cwd, ["cluster", "emulate", "exec", "--node", $"{clientNode}", "--", .. args]);

    /// <summary>Submits, waits for Succeeded, returns the job's log.</summary>
    private static string RunJob(string cwd, string spec, string name, params string[] settings)
    {
        var submit = Exec(cwd, ["submit", spec, "--set", $"name={name}", .. settings.SelectMany(s => new[] { "--set", s })]);
        Assert.True(submit.ExitCode == 0, submit.ToString());
        var watch = CliRunner.Run(cwd, ["cluster", "emulate", "exec", "--node", $"{clientNode}", "--", "status", name, "--watch"], JobLimit);
        var log = Exec(cwd, "logs", name, "--tail", "0").Output;
        Assert.True(watch.ExitCode == 0, $"{watch}\n{log}");
        return log;
    }

    /// <summary>
    /// Every index 0..size-1 once per epoch over all launches and ranks; a launch that was killed counts only up to the step
    /// the next launch resumed at (the steps after its last checkpoint are trained again).
    /// </summary>
    private static void AssertEachSampleOncePerEpoch(string runDirectory, int size, int epochs)
    {
        var records = Directory.GetFiles(Path.Combine(runDirectory, "samples"), "launch-*.rank-*.txt").SelectMany(file =>
        {
            var launch = int.Parse(Path.GetFileName(file).Split('.')[0]["launch-".Length..], CultureInfo.InvariantCulture);
            return File.ReadLines(file).Select(line => line.Split(' ')).Select(f => (Launch: launch, Step: long.Parse(f[0], CultureInfo.InvariantCulture),
                Epoch: int.Parse(f[1], CultureInfo.InvariantCulture), Indices: f.Length > 3 && f[3].Length > 0 ? f[3].Split(',').Select(int.Parse).ToArray() : []));
        }).ToList();
        var launches = records.Select(r => r.Launch).Distinct().Order().ToList();
        Assert.True(launches.Count >= 2, $"expected a restart, saw launches {string.Join(",", launches)}");
        var resumedAt = launches.Skip(1).ToDictionary(l => l, l => records.Where(r => r.Launch == l).Min(r => r.Step));
        var kept = records.Where(r => r.Launch == launches[^1] || r.Step < resumedAt[launches[launches.IndexOf(r.Launch) + 1]]).ToList();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            var counts = new int[size];
            foreach (var r in kept.Where(r => r.Epoch == epoch))
                foreach (var i in r.Indices) counts[i]++;
            Assert.True(counts.All(c => c == 1), $"epoch {epoch}: {counts.Count(c => c == 0)} samples missing, {counts.Count(c => c > 1)} repeated");
        }
    }

    /// <summary>The host of each rank, in rank order, from the ranks' own "rank R of N on host H" lines.</summary>
    private static List<string> HostsOfRanks(string log) =>
        [.. Regex.Matches(log, @"rank (\d+) of \d+ on host (\S+)").OrderBy(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Select(m => m.Groups[2].Value)];

    private static long TxBytes(int node) => long.Parse(
        File.ReadAllText($"/proc/{NodeSiloPid(node)}/net/dev").Split('\n').Single(l => l.TrimStart().StartsWith("eth0:", StringComparison.Ordinal))
            .Split(':')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[8], CultureInfo.InvariantCulture);

    private static int NodeSiloPid(int node) => NetworkFabric.ProcessesOf(EmulatedCluster.NodeNamespace(node)).First();

    private static void KillNode(int node)
    {
        foreach (var pid in NetworkFabric.ProcessesOf(EmulatedCluster.NodeNamespace(node)))
        {
            try { System.Diagnostics.Process.GetProcessById(pid).Kill(); }
            catch (ArgumentException) { }
        }
    }

    /// <summary>Processes of a job (ranks, Hydra) in any node namespace.</summary>
    private static List<int> JobProcesses() =>
        [.. NetworkFabric.ProcessesIn(EmulatedCluster.Prefix).Where(pid =>
        {
            try
            {
                var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
                return cmdline.Contains("hydra_pmi_proxy", StringComparison.Ordinal) || cmdline.Contains("mpirun", StringComparison.Ordinal)
                    || cmdline.Contains("\0train\0", StringComparison.Ordinal);
            }
            catch (IOException) { return false; }
        })];

    private static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited 90 s for {what}");
            Thread.Sleep(500);
        }
    }
}

/// <summary>Emulated clusters share one namespace prefix: their tests never run in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EmulatedClusterCollection
{
    public const string Name = "Emulated cluster";
}
