using System.Globalization;
using System.Text.Json;
using Orchestrator.Silos.Emulation;
using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;

namespace Orchestrator.Bench.Drivers;

/// <summary>How PyTorch DDP averages the gradients: plain, or through one of its own compression hooks.</summary>
/// <param name="Hook">The script's --hook: none, fp16, powersgd.</param>
/// <param name="Rank">PowerSGD's matrix approximation rank (unused by the other hooks).</param>
public sealed record DdpHook(string Label, string Hook, int Rank = 0)
{
    /// <summary>The script's arguments for this hook.</summary>
    public IEnumerable<string> Arguments => Hook == "powersgd"
        ? ["--hook", Hook, "--powersgd-rank", Rank.ToString(CultureInfo.InvariantCulture)]
        : ["--hook", Hook];
}

/// <summary>Rank 0's figures of one PyTorch DDP throughput run: median step, samples/s, bytes its node's link sent per step.</summary>
public sealed record DdpStepFigures(double StepSeconds, double SamplesPerSecond, double LinkBytesPerStep, long Parameters, string Torch);

/// <summary>
/// The PyTorch 1.13 DDP (gloo) peer on an emulated cluster that is up: <c>bench/pytorch/ddp_cluster.py</c> started once per
/// rank, rank k inside node k+1's network namespace, gloo bound to the node's end of its shaped link, rank 0's address as
/// the rendezvous; every rank gets the heap settings our processes apply (<see cref="HeapTuning"/>). Waits for all ranks
/// and reads rank 0's JSON lines.
/// </summary>
public sealed class DdpClusterPeer(int nodes, string python, string root)
{
    /// <summary>One whole-model bucket, as ours (<c>compression.bucket_mb: 25</c>); powerSGD_hook also needs it: with
    /// several buckets its allreduces, issued from future callbacks, race the next bucket's and gloo aborts on a size
    /// mismatch (see ddp_cluster.py, serialized).</summary>
    private const string BucketMb = "25";

    private static int nextPort = 29531; // a fresh rendezvous port per run: the last run's may be in TIME_WAIT

    private static string Script => Path.Combine(AppContext.BaseDirectory, "bench", "pytorch", "ddp_cluster.py");

    /// <summary>Median step figures over <paramref name="steps"/> steps (the first <paramref name="warmup"/> not measured).</summary>
    /// <exception cref="UserFacingException">A rank failed or ran past its limit (the message says why, in a line).</exception>
    public DdpStepFigures Throughput(string model, DdpHook hook, int globalBatch, int steps, int warmup)
    {
        var lines = Run([.. hook.Arguments, "--model", model, "--batch", $"{globalBatch}", "--steps", $"{steps}", "--warmup", $"{warmup}"],
            TimeSpan.FromMinutes(10));
        var json = lines[^1].RootElement;
        return new DdpStepFigures(json.GetProperty("step_seconds").GetDouble(), json.GetProperty("samples_per_second").GetDouble(),
            json.GetProperty("bytes_per_step").GetDouble(), json.GetProperty("parameters").GetInt64(), json.GetProperty("torch").GetString() ?? "?");
    }

    /// <summary>Test accuracy and training seconds after each of <paramref name="epochs"/> full epochs.</summary>
    /// <exception cref="UserFacingException">A rank failed or ran past its limit.</exception>
    public IReadOnlyList<EpochAccuracy> Epochs(string model, DdpHook hook, int globalBatch, int epochs) =>
        [.. Run([.. hook.Arguments, "--model", model, "--batch", $"{globalBatch}", "--epochs", $"{epochs}"], TimeSpan.FromMinutes(15 * epochs))
            .Select(l => l.RootElement)
            .Select(e => new EpochAccuracy(e.GetProperty("epoch").GetInt32(), e.GetProperty("train_seconds").GetDouble(), e.GetProperty("test_accuracy").GetDouble()))];

    private List<JsonDocument> Run(IReadOnlyList<string> arguments, TimeSpan limit)
    {
        var port = Interlocked.Increment(ref nextPort).ToString(CultureInfo.InvariantCulture);
        var ranks = Enumerable.Range(0, nodes).Select(rank => Task.Run(() => ChildProcess.Run("ip",
            ["netns", "exec", EmulatedCluster.NodeNamespace(rank), python, Script, "--rank", $"{rank}", "--world", $"{nodes}",
                "--master-addr", EmulatedCluster.Address(0), "--master-port", port, "--iface", EmulatedCluster.NodeInterface,
                "--root", root, "--threads", "1", "--bucket-mb", BucketMb, "--first-bucket-mb", BucketMb, .. arguments],
            limit, "apt-get install -y iproute2 python3-torch", environment: HeapTuning.Environment))).ToArray();
        Task.WaitAll(ranks);
        var results = ranks.Select(r => r.Result).ToList();
        // The rank that failed first says why; the others then only report the lost connection.
        if (results.FindIndex(r => r.TimedOut || r.ExitCode != 0) is var failed and >= 0)
            throw new UserFacingException(results[failed].TimedOut ? $"rank {failed} ran longer than {limit}" : Reason(results));
        var lines = results[0].Stdout.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l)).ToList();
        if (lines.Count == 0) throw new UserFacingException($"rank 0 printed no JSON line: {results[0].Stderr.Trim()}");
        return lines;
    }

    /// <summary>One line: gloo's enforce message if some rank has one, else the last line some rank wrote to stderr.</summary>
    private static string Reason(List<ChildResult> results)
    {
        var errors = results.Select(r => r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        return errors.SelectMany(e => e).FirstOrDefault(l => l.Contains("enforce fail", StringComparison.Ordinal))
            ?? errors.Select(e => e.LastOrDefault()).FirstOrDefault(l => l is not null) ?? $"exit {results.First(r => r.ExitCode != 0).ExitCode}";
    }
}
