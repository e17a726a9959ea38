using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator collectives-check</c> (hidden): run under <c>mpirun.mpich -np N</c> by tests and
/// benchmarks (<c>bench allreduce</c>). Every rank fills a bucket with deterministic rank-specific values,
/// runs one allreduce algorithm with one codec (any codec of <see cref="CodecRegistry"/>), untimed
/// warm-up rounds first, and rank 0 prints one JSON line: the error against the exact fp32 mean,
/// whether every rank holds the same bits, traffic per allreduce, and time (median over the timed
/// rounds of the slowest rank, split into codec and communication). Exit code 1 when ranks disagree
/// (or the error exceeds <c>--max-error</c>).
/// </summary>
public static class CollectivesCheckCommand
{
    public static Command Create()
    {
        var algorithm = new Option<string>("--algorithm")
        {
            Description = string.Join(" | ", SpecChoice.Names<AllreduceKind>(SpecNames.SpecName)),
            DefaultValueFactory = _ => AllreduceKind.Ring.SpecName(),
        };
        var codec = new Option<string>("--codec")
        {
            Description = $"Gradient codec: {string.Join(" | ", SpecChoice.Names<CodecKind>(SpecNames.SpecName))}",
            DefaultValueFactory = _ => CodecKind.None.SpecName(),
        };
        var n = new Option<int>("--n") { Description = "N of N:M pruning (nm codecs)", DefaultValueFactory = _ => CompressionSpec.Default.N };
        var m = new Option<int>("--m") { Description = "M of N:M pruning (nm codecs)", DefaultValueFactory = _ => CompressionSpec.Default.M };
        var pruner = new Option<string>("--pruner") { Description = $"N:M pruner: {string.Join(" | ", SpecChoice.Names<PrunerKind>(SpecNames.SpecName))} (nm codecs)", DefaultValueFactory = _ => CompressionSpec.Default.Pruner.SpecName() };
        var warmup = new Option<int>("--warmup") { Description = "Untimed allreduces before the timed ones", DefaultValueFactory = _ => 0 };
        var elements = new Option<int>("--elements") { Description = "Floats per rank", DefaultValueFactory = _ => 1_000_000 };
        var iterations = new Option<int>("--iterations") { Description = "Allreduces timed (the last one is checked)", DefaultValueFactory = _ => 3 };
        var values = new Option<string>("--values")
        {
            Description = "exact: multiples of 1/1024 whose sums are exact in any order; random: uniform in [-1, 1)",
            DefaultValueFactory = _ => "exact",
        };
        var maxError = new Option<double>("--max-error") { Description = "Fail when the max abs error exceeds this (negative = do not check)", DefaultValueFactory = _ => -1 };
        var dieRank = new Option<int>("--die-rank") { Description = "This rank exits with code 3 just before the first allreduce (tests liveness)", DefaultValueFactory = _ => -1 };
        var failRank = new Option<int>("--fail-rank") { Description = "This rank throws just before the first allreduce (tests that an exception aborts the job)", DefaultValueFactory = _ => -1 };
        var yielding = new Option<bool>("--yield") { Description = "Wait as the overlap's communication thread does: nonblocking calls polled with short sleeps" };
        var seed = new Option<ulong>("--seed") { Description = "Codec seed of the first allreduce", DefaultValueFactory = _ => 1UL };
        var command = new Command("collectives-check", "Checks an allreduce algorithm under mpirun.mpich (tests and benchmarks)")
        {
            algorithm, codec, n, m, pruner, elements, warmup, iterations, values, maxError, dieRank, failRank, seed, yielding,
        };
        command.Hidden = true;
        command.SetAction(parse => CommandGuard.Run(() => Run(new Settings(
            SpecChoice.ParseUserInput<AllreduceKind>("--algorithm", parse.GetValue(algorithm)!, SpecNames.SpecName),
            CompressionSpec.Default with
            {
                Codec = SpecChoice.ParseUserInput<CodecKind>("--codec", parse.GetValue(codec)!, SpecNames.SpecName),
                N = parse.GetValue(n),
                M = parse.GetValue(m),
                Pruner = SpecChoice.ParseUserInput<PrunerKind>("--pruner", parse.GetValue(pruner)!, SpecNames.SpecName),
            },
            parse.GetValue(elements), parse.GetValue(warmup), parse.GetValue(iterations), parse.GetValue(values)!, parse.GetValue(maxError),
            parse.GetValue(dieRank), parse.GetValue(failRank), parse.GetValue(seed), parse.GetValue(yielding)))));
        return command;
    }

    private sealed record Settings(AllreduceKind Algorithm, CompressionSpec Codec, int Elements, int Warmup, int Iterations, string Values, double MaxError, int DieRank, int FailRank, ulong Seed, bool Yield);

    private static int Run(Settings settings)
    {
        if (settings.Elements < 0) throw new UserFacingException("--elements must be >= 0");
        if (settings.Iterations < 1) throw new UserFacingException("--iterations must be >= 1");
        if (settings.Warmup < 0) throw new UserFacingException("--warmup must be >= 0");
        if (settings.Values is not ("exact" or "random")) throw new UserFacingException($"--values must be exact or random, not '{settings.Values}'");
        // Before MPI starts: a bad name or pair fails every rank the same way (exit 2), nothing to abort.
        if (settings.Codec.Codec == CodecKind.PowerSgd)
            throw new UserFacingException($"--codec {CodecKind.PowerSgd.SpecName()}: PowerSGD factorizes whole gradient matrices, it is not an element codec of these allreduce algorithms; measure it in training (compression.codec: {CodecKind.PowerSgd.SpecName()}, e.g. bench cluster --codecs psgd2)");
        if (settings.Codec.Codec.Prunes() && !settings.Codec.Nm.IsValid)
            throw new UserFacingException($"--n / --m: N:M pruning needs {NmPattern.Rule}; got {settings.Codec.Nm}");
        var codec = CodecRegistry.Create(settings.Codec);
        if (!settings.Algorithm.Carries(codec.Kind))
            throw new UserFacingException($"--algorithm {settings.Algorithm.SpecName()} is plain fp32 MPI_Allreduce and needs --codec {CodecKind.None.SpecName()}, not {codec.Name}");

        using var communicator = MpiCommunicator.Initialize();
        if (settings.Yield) communicator.YieldWhileWaiting();
        // An exception on one rank must abort the job: finalizing alone would wait for peers stuck in a collective.
        return communicator.Guard(() =>
        {
            var algorithm = AllreduceAlgorithms.Create(settings.Algorithm, communicator);
            int rank = communicator.Rank, ranks = communicator.Size;
            bool exact = settings.Values == "exact";
            var bucket = new float[settings.Elements];
            var stats = new AllreduceStats();
            int k = settings.Iterations;
            // Per timed round: total, codec and communication milliseconds.
            var milliseconds = new double[3 * k];
            var communicatorFailures = CheckCommunicator(communicator);

            for (int iteration = 0; iteration < settings.Warmup + settings.Iterations; iteration++)
            {
                if (iteration == settings.Warmup) stats.Reset(); // traffic and split times of timed rounds only
                Fill(bucket, rank, exact);
                communicator.Barrier();
                if (iteration == 0 && rank == settings.DieRank)
                {
                    // The peers are entering the allreduce: they must not wait for this rank forever.
                    Console.Error.WriteLine($"rank {rank} exits on purpose before the allreduce (--die-rank)");
                    System.Environment.Exit(3);
                }
                if (iteration == 0 && rank == settings.FailRank)
                    throw new InvalidOperationException($"rank {rank} fails on purpose before the allreduce (--fail-rank)");
                double codecBefore = stats.CodecSeconds, communicationBefore = stats.CommunicationSeconds;
                long start = Stopwatch.GetTimestamp();
                algorithm.Allreduce(bucket, codec, settings.Seed + (ulong)iteration, stats);
                double elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (iteration >= settings.Warmup)
                {
                    int round = iteration - settings.Warmup;
                    milliseconds[round] = elapsed;
                    milliseconds[k + round] = (stats.CodecSeconds - codecBefore) * 1000;
                    milliseconds[2 * k + round] = (stats.CommunicationSeconds - communicationBefore) * 1000;
                }
            }

            var (maxAbs, maxRel) = Error(bucket, ranks, exact);
            // One collective for every figure reduced with max: errors and per-iteration times (the slowest rank counts).
            var worst = new double[2 + milliseconds.Length];
            worst[0] = maxAbs;
            worst[1] = maxRel;
            milliseconds.CopyTo(worst, 2);
            communicator.Allreduce(worst, ReduceOp.Max);

            Span<byte> checksum = stackalloc byte[sizeof(ulong)];
            BitConverter.TryWriteBytes(checksum, Checksum(bucket));
            var checksums = new byte[sizeof(ulong) * ranks];
            communicator.Allgather(checksum, checksums);
            bool identical = true;
            for (int r = 1; r < ranks; r++)
                identical &= checksums.AsSpan(r * sizeof(ulong), sizeof(ulong)).SequenceEqual(checksums.AsSpan(0, sizeof(ulong)));

            bool accurate = settings.MaxError < 0 || worst[0] <= settings.MaxError;
            long[] failures = [communicatorFailures.Count];
            communicator.Allreduce(failures, ReduceOp.Sum);
            if (rank == 0)
            {
                var times = worst[2..(2 + k)].Order().ToArray();
                double Median(int first) => worst[first..(first + k)].Order().ElementAt(k / 2);
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["algorithm"] = algorithm.Kind.SpecName(),
                    ["codec"] = codec.Name,
                    ["ranks"] = ranks,
                    ["elements"] = settings.Elements,
                    ["values"] = settings.Values,
                    ["warmup"] = settings.Warmup,
                    ["iterations"] = settings.Iterations,
                    ["encoded_bytes"] = (long)codec.EncodedBytes(settings.Elements),
                    ["wire_ratio"] = settings.Elements == 0 ? 1.0 : codec.EncodedBytes(settings.Elements) / (4.0 * settings.Elements),
                    ["max_abs_error"] = worst[0],
                    ["max_rel_error"] = worst[1],
                    ["bit_identical"] = identical,
                    ["communicator_failures"] = failures[0],
                    ["bytes_sent"] = stats.BytesSent / settings.Iterations,
                    ["bytes_received"] = stats.BytesReceived / settings.Iterations,
                    ["ms_median"] = times[times.Length / 2],
                    ["ms_min"] = times[0],
                    ["communication_ms"] = stats.CommunicationSeconds * 1000 / settings.Iterations,
                    ["codec_ms"] = stats.CodecSeconds * 1000 / settings.Iterations,
                    // Medians over the timed rounds of the slowest rank's split (so comparable with ms_median).
                    ["codec_ms_median"] = Median(2 + k),
                    ["communication_ms_median"] = Median(2 + 2 * k),
                }));
            }
            foreach (var failure in communicatorFailures) Console.Error.WriteLine($"rank {rank}: {failure}");
            return identical && accurate && failures[0] == 0 ? 0 : 1;
        });
    }

    /// <summary>
    /// Exercises the communicator calls the algorithms above do not (broadcasts, control reductions,
    /// variable allgather, point-to-point), with values every rank can predict. Returns what went wrong here.
    /// </summary>
    private static List<string> CheckCommunicator(ICommunicator communicator)
    {
        var failures = new List<string>();
        int rank = communicator.Rank, ranks = communicator.Size, root = ranks - 1;

        float[] floats = rank == root ? [1.5f, -2f, 3.25f] : new float[3];
        communicator.Broadcast(floats, root);
        if (!floats.SequenceEqual([1.5f, -2f, 3.25f])) failures.Add("float broadcast");
        byte[] bytes = rank == root ? [7, 8, 9, 10] : new byte[4];
        communicator.Broadcast(bytes, root);
        if (!bytes.SequenceEqual(new byte[] { 7, 8, 9, 10 })) failures.Add("byte broadcast");

        long[] sum = [rank, 1L << 40], max = [rank, -rank], min = [rank, -rank];
        communicator.Allreduce(sum, ReduceOp.Sum);
        communicator.Allreduce(max, ReduceOp.Max);
        communicator.Allreduce(min, ReduceOp.Min);
        if (sum[0] != (long)ranks * (ranks - 1) / 2 || sum[1] != ranks * (1L << 40)) failures.Add("long sum");
        if (max[0] != ranks - 1 || max[1] != 0 || min[0] != 0 || min[1] != -(ranks - 1)) failures.Add("long max/min");
        double[] doubles = [rank + 0.25];
        communicator.Allreduce(doubles, ReduceOp.Sum);
        if (doubles[0] != ranks * (ranks - 1) / 2.0 + 0.25 * ranks) failures.Add("double sum");

        // Rank r contributes r + 1 bytes of value r.
        var counts = new int[ranks];
        byte[] gathered = [];
        int total = communicator.AllgatherVariable(Enumerable.Repeat((byte)rank, rank + 1).ToArray(), counts, ref gathered);
        var expected = Enumerable.Range(0, ranks).SelectMany(r => Enumerable.Repeat((byte)r, r + 1)).ToArray();
        if (total != expected.Length || !gathered.AsSpan(0, total).SequenceEqual(expected)
            || !counts.SequenceEqual(Enumerable.Range(1, ranks))) failures.Add("variable allgather");
        // The same lengths, known in advance, into a buffer of exactly their sum: no room to gather the padded blocks in place.
        var tight = new byte[expected.Length];
        communicator.Allgather(Enumerable.Repeat((byte)rank, rank + 1).ToArray(), counts, tight);
        if (!tight.SequenceEqual(expected)) failures.Add("counted allgather into an exact-size buffer");

        // A ring of blocking point-to-point messages: even ranks send first, odd ranks receive first.
        int next = (rank + 1) % ranks, previous = (rank + ranks - 1) % ranks;
        var message = new byte[8];
        int received;
        if (ranks == 1)
        {
            // MPICH's blocking send to oneself waits for a receive that cannot be posted yet: pair them.
            received = communicator.SendReceive([(byte)rank, 42], next, 77, message, previous, 77);
        }
        else if (rank % 2 == 0)
        {
            communicator.Send([(byte)rank, 42], next, 77);
            received = communicator.Receive(message, previous, 77);
        }
        else
        {
            received = communicator.Receive(message, previous, 77);
            communicator.Send([(byte)rank, 42], next, 77);
        }
        if (received != 2 || message[0] != previous || message[1] != 42) failures.Add("send/receive");
        communicator.Barrier();
        return failures;
    }

    /// <summary>Rank <paramref name="rank"/>'s value at <paramref name="index"/>: computable by every rank for every rank.</summary>
    private static float Value(int rank, long index, bool exact)
    {
        if (exact)
            // Multiples of 2^-10 below 1 in magnitude: any sum of a few is exact in fp32, whatever the order.
            return ((index * 7919 + rank * 104729L) % 2001 - 1000) / 1024f;
        ulong z = (ulong)index * 0x9E3779B97F4A7C15UL + (ulong)(rank + 1) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 31)) * 0x94D049BB133111EBUL;
        z ^= z >> 29;
        return (z >> 40) / (float)(1 << 23) - 1f; // 24 random bits, uniform in [-1, 1)
    }

    private static void Fill(float[] bucket, int rank, bool exact)
    {
        for (int i = 0; i < bucket.Length; i++) bucket[i] = Value(rank, i, exact);
    }

    /// <summary>Max abs error against the fp32 rank-order sum divided by W, and that error relative to the largest mean.</summary>
    private static (double Abs, double Rel) Error(float[] result, int ranks, bool exact)
    {
        double maxAbs = 0, maxMean = 0;
        for (int i = 0; i < result.Length; i++)
        {
            float sum = 0;
            for (int r = 0; r < ranks; r++) sum += Value(r, i, exact);
            float mean = sum / ranks;
            maxAbs = Math.Max(maxAbs, Math.Abs((double)result[i] - mean));
            maxMean = Math.Max(maxMean, Math.Abs(mean));
        }
        return (maxAbs, maxMean == 0 ? maxAbs : maxAbs / maxMean);
    }

    private static ulong Checksum(float[] values)
    {
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        ulong h = 14695981039346656037UL;
        int i = 0;
        for (; i + sizeof(ulong) <= bytes.Length; i += sizeof(ulong))
            h = (h ^ MemoryMarshal.Read<ulong>(bytes[i..])) * 1099511628211UL;
        for (; i < bytes.Length; i++) h = (h ^ bytes[i]) * 1099511628211UL;
        return h;
    }
}
