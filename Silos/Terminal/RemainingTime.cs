using System.Globalization;

namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Estimates how long a run still takes from the wall clock of the steps seen so far. It measures from the first
/// step it sees, not from the run's start: the start-up before that step (data loading, the first step's warm-up)
/// does not repeat, while evaluations and checkpoints between steps do and so are counted.
/// </summary>
public sealed class RemainingTime(long totalSteps)
{
    private long firstStep = -1;
    private double firstElapsed;

    /// <summary>
    /// The time left after <paramref name="step"/> (1-based, of <c>totalSteps</c>), given the run's wall clock
    /// <paramref name="elapsed"/> at its end and its own duration <paramref name="stepSeconds"/> (the only figure
    /// there is at the first step seen).
    /// </summary>
    public TimeSpan Update(long step, double elapsed, double stepSeconds)
    {
        if (firstStep < 0)
            (firstStep, firstElapsed) = (step, elapsed);
        double perStep = step > firstStep ? (elapsed - firstElapsed) / (step - firstStep) : stepSeconds;
        long left = Math.Max(0, totalSteps - step);
        return TimeSpan.FromSeconds(Math.Max(0, left * perStep));
    }

    /// <summary><c>m:ss</c>, or <c>h:mm:ss</c> from an hour on (hours not wrapped at a day).</summary>
    public static string Format(TimeSpan remaining)
    {
        long seconds = (long)Math.Round(remaining.TotalSeconds);
        long hours = seconds / 3600, minutes = seconds / 60 % 60;
        return hours > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{hours}:{minutes:00}:{seconds % 60:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{minutes}:{seconds % 60:00}");
    }
}
