using System.CommandLine;

namespace Orchestrator.Silos.Commands;

/// <summary>Options shared by every command that takes a job spec.</summary>
public static class SpecOptions
{
    public static Option<string[]> Set() => new("--set")
    {
        Description = "Override a spec value: --set training.epochs=3 (repeatable; dotted path = YAML value)",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };
}
