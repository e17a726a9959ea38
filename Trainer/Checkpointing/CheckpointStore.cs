using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Orchestrator.Spec;

namespace Orchestrator.Trainer.Checkpointing;

/// <summary>
/// Checkpoints in one directory, named <c>ckpt-{step:D10}.bin</c>. Writes are atomic (temp file,
/// fsync, rename) and end with a SHA-256 of everything before it, so a torn or corrupted file is
/// detected on load and the previous valid one is used instead.
/// </summary>
/// <remarks>
/// Layout: magic "ORCKPT01" | int32 header length | UTF-8 JSON header | int64 model length | model
/// bytes | int64 optimizer length | optimizer bytes | int64 synchronizer-state length | synchronizer
/// state bytes | 32-byte SHA-256 of all preceding bytes. The synchronizer section came later: files
/// without it (the hash right after the optimizer bytes) still load, with an empty state, and older
/// readers ignore it, so the magic did not change.
/// </remarks>
public sealed class CheckpointStore
{
    private static readonly byte[] Magic = "ORCKPT01"u8.ToArray();
    private const string Prefix = "ckpt-";
    private const string Suffix = ".bin";

    private readonly string directory;
    private readonly int keep;

    public CheckpointStore(string directory, int keep)
    {
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep), "keep at least one checkpoint");
        this.directory = directory;
        this.keep = keep;
    }

    public string Directory => directory;

    /// <summary>Writes a checkpoint atomically, then deletes all but the newest <c>keep</c>.</summary>
    /// <param name="synchronizerState">Every worker's synchronizer state (error-feedback residuals); empty when none.</param>
    public string Save(TrainingPosition position, string modelFingerprint, ReadOnlySpan<byte> modelState, ReadOnlySpan<byte> optimizerState,
        ReadOnlySpan<byte> synchronizerState = default)
    {
        System.IO.Directory.CreateDirectory(directory);
        var path = System.IO.Path.Combine(directory, $"{Prefix}{position.Step:D10}{Suffix}");
        var temp = path + ".tmp";
        var header = JsonSerializer.SerializeToUtf8Bytes(new Header(position.Step, position.Epoch, position.Offset, modelFingerprint, position.Skipped));
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            void Write(ReadOnlySpan<byte> bytes)
            {
                file.Write(bytes);
                hash.AppendData(bytes);
            }
            Span<byte> number = stackalloc byte[8];
            Write(Magic);
            BitConverter.TryWriteBytes(number[..4], header.Length);
            Write(number[..4]);
            Write(header);
            BitConverter.TryWriteBytes(number, (long)modelState.Length);
            Write(number);
            Write(modelState);
            BitConverter.TryWriteBytes(number, (long)optimizerState.Length);
            Write(number);
            Write(optimizerState);
            BitConverter.TryWriteBytes(number, (long)synchronizerState.Length);
            Write(number);
            Write(synchronizerState);
            file.Write(hash.GetHashAndReset());
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        Prune();
        return path;
    }

    /// <summary>
    /// The newest checkpoint whose checksum verifies, or null when there is none. Each corrupt
    /// or unreadable newer file is reported through <paramref name="onSkipped"/>.
    /// </summary>
    public Checkpoint? LoadNewestValid(Action<string> onSkipped)
    {
        var paths = List();
        for (int i = 0; i < paths.Count; i++)
        {
            var path = paths[i];
            var next = i + 1 < paths.Count ? "falling back to the previous one" : "no older checkpoint to fall back to";
            try
            {
                return Read(path);
            }
            catch (InvalidDataException e)
            {
                onSkipped($"checkpoint {path} is unusable ({e.Message}); {next}");
            }
            catch (IOException e)
            {
                onSkipped($"checkpoint {path} could not be read ({e.Message}); {next}");
            }
        }
        return null;
    }

    /// <summary>Checkpoint files, newest (highest step) first. Temp files of interrupted writes are ignored.</summary>
    public IReadOnlyList<string> List()
    {
        if (!System.IO.Directory.Exists(directory)) return [];
        return System.IO.Directory.EnumerateFiles(directory, Prefix + "*" + Suffix)
            .Select(p => (Path: p, Step: ParseStep(p)))
            .Where(e => e.Step >= 0)
            .OrderByDescending(e => e.Step)
            .Select(e => e.Path)
            .ToList();
    }

    /// <summary>Reads and verifies one checkpoint file.</summary>
    /// <exception cref="InvalidDataException">Bad magic, truncation or checksum mismatch.</exception>
    public static Checkpoint Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        const int hashLength = 32;
        if (bytes.Length < Magic.Length + 4 + hashLength || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException("not a checkpoint file or truncated");
        var body = bytes.AsSpan(0, bytes.Length - hashLength);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - hashLength)))
            throw new InvalidDataException("checksum mismatch: the file is corrupted or was cut short");

        int at = Magic.Length;
        int headerLength = BitConverter.ToInt32(bytes, at);
        at += 4;
        var header = JsonSerializer.Deserialize<Header>(bytes.AsSpan(at, headerLength))
                     ?? throw new InvalidDataException("empty header");
        at += headerLength;
        int end = body.Length;
        var model = Section(bytes, end, ref at);
        var optimizer = Section(bytes, end, ref at);
        var synchronizer = at < end ? Section(bytes, end, ref at) : [];
        return new Checkpoint(new TrainingPosition(header.Step, header.Epoch, header.Offset, header.Skipped), header.Model, model, optimizer, path,
            synchronizer);
    }

    private static byte[] Section(byte[] bytes, int end, ref int at)
    {
        if (at + 8 > end) throw new InvalidDataException("a section is cut short");
        long length = BitConverter.ToInt64(bytes, at);
        at += 8;
        if (length < 0 || length > end - at) throw new InvalidDataException($"a section claims {length} bytes, {end - at} remain");
        var section = bytes.AsSpan(at, (int)length).ToArray();
        at += (int)length;
        return section;
    }

    private void Prune()
    {
        foreach (var old in List().Skip(keep))
            File.Delete(old);
    }

    private static long ParseStep(string path)
    {
        var name = System.IO.Path.GetFileName(path);
        var digits = name[Prefix.Length..^Suffix.Length];
        return long.TryParse(digits, out var step) ? step : -1;
    }

    private sealed record Header(long Step, int Epoch, long Offset, string Model, long Skipped = 0);
}
