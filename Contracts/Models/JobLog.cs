using System.Collections.Immutable;

namespace Orchestrator.Contracts.Models;

/// <summary>The end of a job's log, as <c>orchestrator logs</c> shows it.</summary>
/// <param name="Path">The log file on the silo's machine (<c>DIR/logs/launcher.log</c>).</param>
/// <param name="Lines">The last lines asked for, oldest first; for one rank without its <c>[R] </c> prefix.</param>
/// <param name="Exists">False when the job has not written a log yet (not launched).</param>
[GenerateSerializer, Immutable, Alias("orchestrator.JobLog.v1")]
public sealed record JobLog(string Path, ImmutableArray<string> Lines, bool Exists);
