using System.Globalization;
using System.Text.RegularExpressions;

namespace Orchestrator.Silos.Emulation;

/// <summary>
/// The rate of an emulated node link, written as <c>tc</c> writes rates (<c>50mbit</c>, <c>1gbit</c>; decimal units), and
/// the token-bucket burst that makes <c>tc tbf</c> behave like a wire of that rate. Pure logic.
/// </summary>
/// <remarks>
/// A token bucket lets a link that was idle send its whole burst at the speed of the veth underneath (tens of Gbit/s); a
/// wire cannot. With the former fixed 256 KB burst a 50 Mbit/s link that idled through a training step's compute sent its
/// first 42 ms worth of bytes at once, so a synchronization that starts after the compute (no overlap) ran faster than the
/// wire while one that starts during the backward (overlap) found less credit: the link benchmark's "communication alone"
/// was 243 ms for a payload the wire needs 272 ms for. One millisecond of the rate keeps that credit a rounding error; the
/// floor keeps a few full frames, which slow links need to reach their rate.
/// </remarks>
public readonly partial record struct LinkRate
{
    /// <summary>What a rate looks like, for error messages.</summary>
    public const string Expected = "a rate like 100mbit, 1gbit or 10gbit";

    /// <summary>The smallest burst, in bytes: about 21 full Ethernet frames.</summary>
    public const long MinimumBurstBytes = 32 * 1024;

    private LinkRate(string text, double bitsPerSecond)
    {
        Text = text;
        BitsPerSecond = bitsPerSecond;
    }

    /// <summary>The rate as written (what <c>tc</c> is given).</summary>
    public string Text { get; }

    /// <summary>Bits per second.</summary>
    public double BitsPerSecond { get; }

    /// <summary>The <c>tbf</c> burst in bytes: what the link carries in a millisecond, at least <see cref="MinimumBurstBytes"/>.</summary>
    public long BurstBytes => Math.Max(MinimumBurstBytes, (long)(BitsPerSecond / 8 / 1000));

    /// <summary>Seconds the wire needs for <paramref name="bytes"/> bytes (payload only: no frame or TCP headers).</summary>
    public double SecondsFor(double bytes) => bytes * 8 / BitsPerSecond;

    /// <summary>Parses a rate like <c>100mbit</c>; false for anything else (no bytes-per-second units, nothing zero).</summary>
    public static bool TryParse(string? text, out LinkRate rate)
    {
        rate = default;
        var match = text is null ? Match.Empty : Pattern().Match(text);
        if (!match.Success) return false;
        double value = double.Parse(match.Groups["value"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        double scale = match.Groups["unit"].Value switch
        {
            "bit" => 1,
            "kbit" => 1e3,
            "mbit" => 1e6,
            "gbit" => 1e9,
            _ => 1e12,
        };
        if (value <= 0) return false;
        rate = new LinkRate(text!, value * scale);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => Text;

    [GeneratedRegex("^(?<value>[0-9]+(\\.[0-9]+)?)(?<unit>bit|kbit|mbit|gbit|tbit)$")]
    private static partial Regex Pattern();
}
