using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text;
using Orchestrator.Bench.Drivers;
using Orchestrator.Bench;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench allreduce</c>: every codec x algorithm pair the trainer offers, each in its own
/// <c>mpirun.mpich -np R ... collectives-check</c> job, next to plain fp32 MPI_Allreduce measured in the
/// same run. Reports time per allreduce (median of the slowest rank), bytes each rank sends, and the
/// codec's wire size relative to fp32 (the compression goals are stated in that ratio).
/// </summary>
public static class AllreduceBenchCommand
{
    internal const string Launcher = "mpirun.mpich";

    /// <summary>
    /// What forces TCP with this MPICH (4.0.2, device ch4:ucx): MPIR_CVAR_NOLOCAL=1 makes MPICH treat
    /// every rank as remote (no ch4 POSIX shared-memory path), and UCX_TLS=tcp,self keeps UCX itself off
    /// its shared-memory and CMA transports, so every byte crosses TCP loopback.
    /// </summary>
    internal static readonly string[] TcpEnvironment = ["MPIR_CVAR_NOLOCAL", "1", "UCX_TLS", "tcp,self"];

    /// <summary>One table row: a codec (as a compression spec) on an algorithm.</summary>
    internal sealed record Row(CompressionSpec Codec, string Algorithm);

    /// <summary>The rows, fp32 MPI_Allreduce (the reference for the time ratio) first.</summary>
    internal static readonly Row[] Rows =
    [
        new(CompressionSpec.Default with { Codec = CodecKind.None }, "mpi"),
        new(CompressionSpec.Default with { Codec = CodecKind.None }, "ring"),
        new(CompressionSpec.Default with { Codec = CodecKind.None }, "allgather"),
        new(CompressionSpec.Default with { Codec = CodecKind.Int8 }, "ring"),
        new(CompressionSpec.Default with { Codec = CodecKind.Int8 }, "allgather"),
        new(CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 2, M = 4, Pruner = PrunerKind.Mvue }, "ring"),
        new(CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 2, M = 4, Pruner = PrunerKind.Mvue }, "allgather"),
        new(CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 1, M = 2, Pruner = PrunerKind.Mvue }, "ring"),
        new(CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 1, M = 2, Pruner = PrunerKind.Mvue }, "allgather"),
        new(CompressionSpec.Default with { Codec = CodecKind.Nm, N = 2, M = 4, Pruner = PrunerKind.Mvue }, "ring"),
    ];

    private const string Legend =
        "median ms: median over the timed allreduces of the slowest rank's time; codec ms / comm ms: medians of the slowest rank's " +
        "encode+decode+average and communication time (medians of maxima: they need not add up to the median); bytes sent / rank: payload " +
        "per allreduce (for mpi, the bandwidth-optimal count); wire / fp32: encoded bytes of the whole bucket / 4n (WireFormat); " +
        "time / MPI fp32: median ms / the none-mpi row's median ms of the same run.";

    private sealed record Settings(int Ranks, int Elements, int Repeats, int Warmup, string Transport, string? Record, int TimeoutSeconds);

    /// <summary>One measured row (null figures when its job failed).</summary>
    private sealed record Result(Row Row, string CodecName, double WireRatio, double? Milliseconds, double? CodecMs,
        double? CommunicationMs, long? BytesSent, bool? BitIdentical, string? Failure);

    public static Command Create()
    {
        var ranks = new Option<int>("--ranks") { Description = "MPI ranks (processes on this machine)", DefaultValueFactory = _ => 2 }.AtLeast(2);
        var elements = new Option<int>("--elements") { Description = "fp32 values per allreduce", DefaultValueFactory = _ => 10_000_000 }.AtLeast(1);
        var repeats = new Option<int>("--repeats") { Description = "Timed allreduces per row (median reported)", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var warmup = new Option<int>("--warmup") { Description = "Untimed allreduces per row before timing", DefaultValueFactory = _ => 2 }.AtLeast(0);
        var transport = new Option<string>("--transport")
        {
            Description = "shm: MPICH's defaults (shared memory between local ranks); tcp: force TCP loopback (MPIR_CVAR_NOLOCAL=1, UCX_TLS=tcp,self)",
            DefaultValueFactory = _ => "shm",
        };
        transport.AcceptOnlyFromAmong("shm", "tcp");
        var record = new Option<string?>("--record") { Description = "Append the table as Markdown (with the command line, date and load) to this file" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds each mpirun job may run before its process tree is killed", DefaultValueFactory = _ => 300 }.AtLeast(1);
        var command = new Command("allreduce", "Compressed allreduce (codec x algorithm) under mpirun.mpich vs fp32 MPI_Allreduce: time, traffic, wire ratio")
        {
            ranks, elements, repeats, warmup, transport, record, timeout,
        };
        command.SetAction(parse => CommandGuard.Run(() => Execute(new Settings(parse.GetValue(ranks), parse.GetValue(elements),
            parse.GetValue(repeats), parse.GetValue(warmup), parse.GetValue(transport)!, parse.GetValue(record), parse.GetValue(timeout)))));
        return command;
    }

    private static int Execute(Settings settings)
    {
        string commandLine = "orchestrator " + string.Join(' ', System.Environment.GetCommandLineArgs().Skip(1).Select(Quote));
        string started = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        string loadBefore = LoadAverage();
        string flags = settings.Transport == "tcp" ? string.Join(' ', Pairs(TcpEnvironment).Select(p => $"-env {p.Name} {p.Value}")) : "(none)";
        AnsiConsole.MarkupLineInterpolated(
            $"{settings.Ranks} ranks, {settings.Elements:N0} floats, {settings.Warmup} warm-up + {settings.Repeats} timed allreduces per row, transport {settings.Transport} (mpirun flags: {flags}), load {loadBefore}");

        var results = new List<Result>();
        foreach (var row in Rows)
        {
            var result = Measure(row, settings);
            results.Add(result);
            AnsiConsole.MarkupLineInterpolated($"{result.CodecName} / {row.Algorithm}: {(result.Failure ?? $"{result.Milliseconds:F1} ms")}");
        }
        string loadAfter = LoadAverage();

        double? reference = results[0].Milliseconds;
        var table = new Table().AddColumns("codec", "algorithm", "median ms", "codec ms", "comm ms", "bytes sent / rank", "wire / fp32", "time / MPI fp32");
        foreach (var cells in results.Select(r => Cells(r, reference))) table.AddRow(cells.Select(Markup.Escape).ToArray());
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"load average before {loadBefore}, after {loadAfter}");

        if (settings.Record is { } path)
        {
            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"## {settings.Ranks} ranks, {settings.Elements:N0} floats, {settings.Transport}");
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"`{commandLine}`");
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{started}, {System.Environment.ProcessorCount} cores, {settings.Warmup} warm-up + {settings.Repeats} timed allreduces per row, mpirun flags: {flags}; load average (1/5/15 min) before {loadBefore}, after {loadAfter}.");
            text.AppendLine();
            text.AppendLine("| codec | algorithm | median ms | codec ms | comm ms | bytes sent / rank | wire / fp32 | time / MPI fp32 |");
            text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
            foreach (var cells in results.Select(r => Cells(r, reference))) text.AppendLine("| " + string.Join(" | ", cells) + " |");
            text.AppendLine();
            text.AppendLine(Legend);
            text.AppendLine();
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null) Directory.CreateDirectory(directory);
            File.AppendAllText(path, text.ToString());
            AnsiConsole.MarkupLineInterpolated($"recorded in {path}");
        }
        return results.All(r => r.Failure is null) ? 0 : 1;
    }

    private static string[] Cells(Result r, double? reference)
    {
        string F(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
        return
        [
            r.CodecName, r.Row.Algorithm,
            r.Failure is null ? F(r.Milliseconds, "F1") : r.Failure,
            F(r.CodecMs, "F1"), F(r.CommunicationMs, "F1"),
            r.BytesSent is { } b ? b.ToString("N0", CultureInfo.InvariantCulture) : "-",
            r.WireRatio.ToString("F3", CultureInfo.InvariantCulture),
            r.Milliseconds is { } ms && reference is { } refMs && refMs > 0 ? (ms / refMs).ToString("F2", CultureInfo.InvariantCulture) : "-",
        ];
    }

    /// <summary>Runs one row's mpirun job with a hard limit (the whole process tree is killed past it).</summary>
    private static Result Measure(Row row, Settings settings)
    {
        var codec = CodecRegistry.Create(row.Codec);
        double wireRatio = codec.EncodedBytes(settings.Elements) / (4.0 * settings.Elements);
        var args = new List<string> { "-np", settings.Ranks.ToString(CultureInfo.InvariantCulture) };
        if (settings.Transport == "tcp")
            foreach (var (name, value) in Pairs(TcpEnvironment)) args.AddRange(["-env", name, value]);
        args.AddRange(SelfCommand());
        args.AddRange(["collectives-check", "--algorithm", row.Algorithm, "--codec", row.Codec.Codec.SpecName(),
            "--n", row.Codec.N.ToString(CultureInfo.InvariantCulture), "--m", row.Codec.M.ToString(CultureInfo.InvariantCulture),
            "--pruner", row.Codec.Pruner.SpecName(), "--elements", settings.Elements.ToString(CultureInfo.InvariantCulture),
            "--warmup", settings.Warmup.ToString(CultureInfo.InvariantCulture), "--iterations", settings.Repeats.ToString(CultureInfo.InvariantCulture),
            "--values", "random"]);

        Result Failed(string why) => new(row, codec.Name, wireRatio, null, null, null, null, null, why);
        var result = ChildProcess.Run(Launcher, args, TimeSpan.FromSeconds(settings.TimeoutSeconds), "bench allreduce needs MPICH (apt-get install mpich)");
        if (result.TimedOut)
        {
            ConsoleSetup.Error.WriteLine($"{codec.Name} / {row.Algorithm}: killed after {settings.TimeoutSeconds} s\n{result.Stdout}{result.Stderr}");
            return Failed($"timed out ({settings.TimeoutSeconds} s)");
        }
        if (result.ExitCode != 0 || result.LastJsonLine is not { } line)
        {
            ConsoleSetup.Error.WriteLine($"{codec.Name} / {row.Algorithm}: {Launcher} exited {result.ExitCode}\n{result.Stdout}{result.Stderr}");
            return Failed($"failed (exit {result.ExitCode})");
        }
        var report = JsonDocument.Parse(line).RootElement;
        long encoded = report.GetProperty("encoded_bytes").GetInt64();
        if (encoded != codec.EncodedBytes(settings.Elements))
            return Failed($"ranks encode {encoded} bytes, expected {codec.EncodedBytes(settings.Elements)}");
        if (!report.GetProperty("bit_identical").GetBoolean()) return Failed("ranks differ");
        return new Result(row, codec.Name, wireRatio, report.GetProperty("ms_median").GetDouble(), report.GetProperty("codec_ms_median").GetDouble(),
            report.GetProperty("communication_ms_median").GetDouble(), report.GetProperty("bytes_sent").GetInt64(), true, null);
    }

    /// <summary>How to start this harness again: <c>dotnet orchestrator-bench.dll</c>, or the app host itself.</summary>
    private static string[] SelfCommand()
    {
        var host = System.Environment.ProcessPath ?? "dotnet";
        if (Path.GetFileNameWithoutExtension(host) != "dotnet") return [host];
        var entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        if (string.IsNullOrEmpty(entry)) entry = HarnessVerbs.EntryAssemblyFor(AppContext.BaseDirectory, "collectives-check");
        return [host, entry];
    }

    private static IEnumerable<(string Name, string Value)> Pairs(string[] flat)
    {
        for (int i = 0; i + 1 < flat.Length; i += 2) yield return (flat[i], flat[i + 1]);
    }

    private static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', parts.Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static string Quote(string arg) => arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./=:+,".Contains(c)) ? arg : $"'{arg}'";
}
