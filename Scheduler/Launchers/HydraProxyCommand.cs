namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// The command Hydra's <c>rsh</c> launcher asks to run on a node: <c>PROGRAM HOST "/usr/bin/hydra_pmi_proxy" --control-port
/// ...</c>. Hydra hands each argument as its own word, the proxy path double-quoted as a shell would read it; this turns the
/// words back into an argument array (one level of enclosing quotes removed, nothing evaluated) and accepts only Hydra's
/// proxy program, so a node agent never starts anything else and never needs a shell.
/// </summary>
public static class HydraProxyCommand
{
    /// <summary>The program name of Hydra's per-node proxy.</summary>
    public const string ProxyProgram = "hydra_pmi_proxy";

    /// <summary>Where Debian's MPICH installs the proxy.</summary>
    public const string DefaultProxyPath = "/usr/bin/hydra_pmi_proxy";

    /// <summary>
    /// The argument array of <paramref name="words"/> (Hydra's words after the host), or why it is refused: not Hydra's proxy,
    /// a word with a quote inside, a control character.
    /// </summary>
    public static bool TryParse(IReadOnlyList<string> words, out IReadOnlyList<string> argv, out string? refusal)
    {
        ArgumentNullException.ThrowIfNull(words);
        argv = [];
        refusal = null;
        if (words.Count == 0)
        {
            refusal = "no command given";
            return false;
        }
        var parsed = new List<string>(words.Count);
        foreach (var word in words)
        {
            var unquoted = Unquote(word);
            if (unquoted is null)
            {
                refusal = $"argument {Shown(word)} has quotes a plain word cannot have";
                return false;
            }
            if (unquoted.Any(char.IsControl))
            {
                refusal = $"argument {Shown(word)} has control characters";
                return false;
            }
            parsed.Add(unquoted);
        }
        if (!Path.IsPathFullyQualified(parsed[0]) || Path.GetFileName(parsed[0]) != ProxyProgram)
        {
            refusal = $"only Hydra's {ProxyProgram} may be started on a node, not {Shown(parsed[0])}";
            return false;
        }
        argv = parsed;
        return true;
    }

    /// <summary>The word without one level of enclosing double or single quotes; null when quotes appear elsewhere in it.</summary>
    private static string? Unquote(string word)
    {
        if (word.Length >= 2 && (word[0] == '"' || word[0] == '\'') && word[^1] == word[0])
            word = word[1..^1];
        return word.Contains('"') || word.Contains('\'') ? null : word;
    }

    private static string Shown(string word) => word.Length <= 80 ? $"'{word}'" : $"'{word[..77]}...'";
}
