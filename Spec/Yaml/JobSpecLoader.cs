using YamlDotNet.RepresentationModel;

namespace Orchestrator.Spec;

/// <summary>
/// Reads a job spec: YAML text, then <c>--set</c> overrides, then defaults, type checks and validation.
/// Every problem found is reported at once in a <see cref="SpecException"/>.
/// </summary>
public static class JobSpecLoader
{
    /// <summary>Reads and parses the spec file at <paramref name="path"/>.</summary>
    /// <param name="path">The YAML file; also the source name shown in errors.</param>
    /// <param name="overrides"><c>dotted.path=value</c> strings, applied in order (later wins).</param>
    /// <param name="host">
    /// The machine the job's workers run on: its cores bound <c>training.threads</c>, its available memory the job's
    /// <see cref="MemoryEstimate"/>. Null measures this machine (<see cref="SpecHost.Measure"/>), which is where
    /// <c>train</c>, <c>run</c> and <c>submit</c> start the workers.
    /// </param>
    /// <exception cref="UserFacingException">The file cannot be read.</exception>
    /// <exception cref="SpecException">The spec is invalid.</exception>
    public static JobSpec LoadFile(string path, IReadOnlyList<string> overrides, SpecHost? host = null)
    {
        string yaml;
        try
        {
            // Reading a directory fails with "access denied", which sends the user after permissions.
            if (Directory.Exists(path))
                throw new UserFacingException($"cannot read job spec {path}: it is a directory, not a YAML file");
            // Checked before reading, so a huge (or endless, e.g. /dev/zero) file is never loaded into memory.
            var info = new FileInfo(path);
            if (info.Exists && YamlLimits.SizeProblem(info.Length) is { } size)
                throw new UserFacingException($"cannot read job spec {path}: {size}");
            yaml = ReadBounded(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserFacingException($"cannot read job spec {path}: file not found", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UserFacingException($"cannot read job spec {path}: {ex.Message}", ex);
        }
        return Parse(yaml, path, overrides, host ?? SpecHost.Measure());
    }

    /// <summary>
    /// The file's text, read up to one byte past <see cref="YamlLimits.MaxDocumentBytes"/>: a file that reports no size
    /// (a pipe, a device) or grows after the size check still cannot load more than that.
    /// </summary>
    private static string ReadBounded(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var buffer = new byte[YamlLimits.MaxDocumentBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
            length += read;
        if (length > YamlLimits.MaxDocumentBytes)
            throw new UserFacingException($"cannot read job spec {path}: it is more than the limit of {YamlLimits.DocumentLimitText}");
        using var reader = new StreamReader(new MemoryStream(buffer, 0, length), detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>Parses spec text; no I/O.</summary>
    /// <param name="yaml">The YAML document.</param>
    /// <param name="sourceName">Shown in error messages, e.g. the file name.</param>
    /// <param name="overrides"><c>dotted.path=value</c> strings, applied in order (later wins).</param>
    /// <param name="host">The machine to check against; null = <see cref="SpecHost.CoresOnly"/> (memory not checked).</param>
    /// <exception cref="SpecException">The spec is invalid.</exception>
    public static JobSpec Parse(string yaml, string sourceName, IReadOnlyList<string> overrides, SpecHost? host = null)
    {
        var context = new SpecReadContext();
        var root = ReadRoot(yaml, context);
        // Override syntax is checked even when the file is broken, so both get fixed in one pass.
        var parsed = OverrideApplier.Parse(overrides, context);
        if (root is null)
            throw Failure(sourceName, context.Errors);

        OverrideApplier.Apply(root, parsed, context);
        var reader = new MappingReader(root, "", context);
        var spec = JobSpecBinder.Bind(reader);
        reader.ReportUnknown();

        var errors = context.Errors.ToList();
        // A value that failed binding was replaced by its default; do not also complain about that default.
        // A bad list item (sizes[1]) makes the whole list fall back, and a bad section all its keys, so rule
        // errors on the enclosing list or section, or inside a bad one, are about defaults too.
        var reported = errors.Select(e => e.Path).ToList();
        errors.AddRange(JobSpecValidator.Validate(spec, host ?? SpecHost.CoresOnly, context.LocationOf)
            .Where(e => !reported.Any(path => path == e.Path || IsInside(path, e.Path) || IsInside(e.Path, path))));
        if (errors.Count > 0)
            throw Failure(sourceName, errors);
        return spec;
    }

    /// <summary>The top-level mapping, or null (with an error recorded) when there is none to bind.</summary>
    private static YamlMappingNode? ReadRoot(string yaml, SpecReadContext context)
    {
        if (!YamlErrors.TryLoad(yaml, out var stream, out YamlProblem? problem))
        {
            context.Add(new SpecError("", problem.Text, problem.Line));
            return null;
        }
        if (stream.Documents.Count == 0)
            return new YamlMappingNode(); // empty file: all defaults, and "name: is required"
        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode;
            context.Add(new SpecError("", "expected a single YAML document, found several", checked((int)second.Start.Line)));
            return null;
        }
        var node = stream.Documents[0].RootNode;
        if (MappingReader.IsNull(node))
            return new YamlMappingNode(); // a file holding only comments or "---"
        if (node is YamlMappingNode mapping)
            return mapping;
        context.Add(new SpecError("", $"the top level must be a mapping of fields, got {MappingReader.Describe(node)}",
            checked((int)node.Start.Line)));
        return null;
    }

    /// <summary>True when <paramref name="path"/> is a field or item of <paramref name="outer"/> (at any depth).</summary>
    private static bool IsInside(string path, string outer) =>
        outer.Length > 0 && path.Length > outer.Length && path.StartsWith(outer, StringComparison.Ordinal)
        && path[outer.Length] is '.' or '[';

    private static SpecException Failure(string sourceName, IEnumerable<SpecError> errors) =>
        // Stable sort: file order first, then errors that have no line (missing fields, --set problems).
        new(sourceName, errors.OrderBy(e => e.Line ?? int.MaxValue).ToList());
}
