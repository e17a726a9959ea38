using System.CommandLine;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Training;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// The hidden <c>train</c> options that are test hooks (what each does: <see cref="WorkerTestHooks"/>), defined and parsed
/// here only, so <c>train</c>'s own options stay the user's. <c>run --worker-args</c> passes them to a job's first launch.
/// </summary>
internal sealed class TrainTestHooks
{
    private readonly Option<string?> injectNan = new("--inject-nan") { Description = "Test hook: make STEP's gradient NaN on RANK (STEP:RANK)", Hidden = true };
    private readonly Option<int> verifyEvery = new Option<int>("--verify-every")
    {
        Description = "Test hook: compare parameter hashes across workers every N steps",
        DefaultValueFactory = _ => WorkerTestHooks.DefaultVerifyEverySteps,
        Hidden = true,
    }.AtLeast(0);
    private readonly Option<long?> stopAfter = new Option<long?>("--stop-after") { Description = "Test hook: exit abruptly after this step, as if killed", Hidden = true }.AtLeast(0L);
    private readonly Option<string?> dieAt = new("--die-at") { Description = "Test hook: worker RANK exits abruptly at STEP (STEP:RANK)", Hidden = true };
    private readonly Option<string?> stallAt = new("--stall-at") { Description = "Test hook: worker RANK hangs forever at STEP (STEP:RANK)", Hidden = true };
    private readonly Option<string?> perturbAt = new("--perturb-at") { Description = "Test hook: nudge worker RANK's parameters off the others' at STEP (STEP:RANK)", Hidden = true };
    private readonly Option<double> linger = new Option<double>("--linger-seconds") { Description = "Test hook: keep the metrics endpoints up this long after training", Hidden = true }.Between(0.0, 3600.0);
    private readonly Option<string[]> variants = new("--variant")
    {
        Description = "Test hook: train the spec once per variant, one after the other in this process (one MPI job), into OUT/0, OUT/1, ...; " +
            "a variant is --set overrides separated by ';', e.g. 'compression.codec=int8;compression.algorithm=ring'",
        Hidden = true,
    };
    private readonly Option<string?> codecImplementation = new("--codec-implementation")
    {
        Description = $"Test hook: encode gradients with this implementation ({string.Join(" | ", CodecImplementations.Names)}) wherever they live",
        Hidden = true,
    };

    /// <summary>Adds the hidden options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { injectNan, verifyEvery, stopAfter, dieAt, stallAt, perturbAt, linger, variants, codecImplementation })
            command.Options.Add(option);
    }

    /// <summary>The hooks a command line asked for (plus the step-delay variable); <see cref="UserFacingException"/> for a malformed one.</summary>
    public WorkerTestHooks Read(ParseResult parse)
    {
        var faults = parse.GetValue(injectNan) is { } nan ? FaultInjection.ParseNonFinite(nan) : null;
        if (parse.GetValue(dieAt) is { } die) faults = FaultInjection.ParseDeath(die, faults);
        if (parse.GetValue(stallAt) is { } stall) faults = FaultInjection.ParseStall(stall, faults);
        if (parse.GetValue(perturbAt) is { } perturb) faults = FaultInjection.ParsePerturbation(perturb, faults);
        faults = FaultInjection.WithEnvironmentDelay(faults);
        return new WorkerTestHooks(faults, parse.GetValue(stopAfter), parse.GetValue(verifyEvery), parse.GetValue(linger),
            parse.GetValue(variants) ?? [], CodecImplementations.Parse(parse.GetValue(codecImplementation)));
    }
}
