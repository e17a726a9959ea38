using Orchestrator.Spec;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Turns an allocation failure during training into the error a user can act on: out of memory, how much was asked
/// for when the library says, and the spec fields that size memory with their values, instead of a stack trace.
/// </summary>
public static class OutOfMemory
{
    // libtorch: "[enforce fail at alloc_cpu.cpp:..] DefaultCPUAllocator: can't allocate memory: you tried to allocate 123 bytes."
    // CUDA: "CUDA out of memory. Tried to allocate 2.00 GiB ..."
    private static readonly string[] Signatures = ["can't allocate memory", "CUDA out of memory", "out of memory"];

    /// <summary>Whether <paramref name="e"/> (or an exception inside it) is an allocation failure.</summary>
    public static bool Is(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is OutOfMemoryException || Signatures.Any(s => x.Message.Contains(s, StringComparison.OrdinalIgnoreCase)))
                return true;
        return false;
    }

    /// <summary>The user-facing error for an allocation failure <paramref name="e"/> while training <paramref name="spec"/>, else null.</summary>
    public static UserFacingException? Explain(Exception e, JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!Is(e)) return null;
        var asked = Requested(e) is { } bytes ? $" (an allocation of {Size(bytes)} failed)" : "";
        var training = spec.Training;
        return new UserFacingException(
            $"out of memory while training{asked}: the job needs more memory than this machine can give each worker. " +
            $"Lower what sizes it: training.global_batch ({training.GlobalBatch}) or training.micro_batch " +
            $"({(training.MicroBatch > 0 ? training.MicroBatch.ToString(System.Globalization.CultureInfo.InvariantCulture) : "unset: the whole local batch per pass")}), " +
            $"training.batch_augmentation ({training.BatchAugmentation}), " +
            $"model.width ({spec.Model.Width}), data.augment.crop_padding ({spec.Data.Augment.CropPadding}), or run fewer workers per machine",
            e);
    }

    private static long? Requested(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            var text = x.Message;
            var at = text.IndexOf("tried to allocate ", StringComparison.OrdinalIgnoreCase);
            if (at < 0) continue;
            var digits = new string(text[(at + "tried to allocate ".Length)..].TakeWhile(char.IsDigit).ToArray());
            if (long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var bytes)) return bytes;
        }
        return null;
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.#} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.#} MiB",
        _ => $"{bytes} bytes",
    };
}
