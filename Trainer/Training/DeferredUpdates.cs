using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Regimes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// The training side of <c>compression.overlap_forward</c>: a step's update is applied bucket by bucket when the next
/// forward first needs the bucket's parameters, so that forward runs while the buckets it needs last are still in
/// flight (the synchronizer sends those last, <see cref="PieceSchedule"/>). Each bucket's update is the optimizer's own
/// step over that bucket's parameters, with the deferred step's settings, so the parameters are the same bits as with
/// the whole update applied at once (SGD updates every parameter on its own).
/// </summary>
/// <remarks>
/// A forward pre-hook on every module that a <c>Sequential</c> calls (TorchSharp runs hooks only for calls through
/// <c>call</c>, which <c>Sequential</c> makes) applies the buckets of the parameters of that module and of the modules
/// inside it. Parameters under no such module (a classifier a model's own forward calls directly) are applied before the
/// forward begins; whatever the forward did not need is applied after it, before any backward. This assumes what every
/// model here does and <see cref="ModuleReadiness"/> assumes too: a parameter is used inside calls of the module that
/// registers it. Gradients of a bucket are cleared right after its update (the optimizer's <c>zero_grad</c> would clear
/// buckets still in flight).
/// </remarks>
internal sealed class DeferredUpdates : IDisposable
{
    private readonly IGradientSynchronizer synchronizer;
    private readonly OptimizerHelper optimizer;
    private readonly List<Parameter>[] parametersOf;
    private readonly int[] upfront;
    private readonly List<IDisposable> hooks = [];
    private readonly bool[] applied;
    private readonly List<Parameter>[]?[] groupSubsets;
    private OptimizerSettings? settings; // of the deferred step; null while none is
    private bool stepApplied;

    public DeferredUpdates(nn.Module<Tensor, Tensor> model, IGradientSynchronizer synchronizer, OptimizerHelper optimizer)
    {
        this.synchronizer = synchronizer;
        this.optimizer = optimizer;
        var byName = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        parametersOf = synchronizer.BucketParameterNames.Select(names => names.Select(n => byName[n]).ToList()).ToArray();
        applied = new bool[parametersOf.Length];
        groupSubsets = new List<Parameter>[parametersOf.Length][];
        var bucketOf = new Dictionary<Parameter, int>(ReferenceEqualityComparer.Instance);
        for (int b = 0; b < parametersOf.Length; b++)
            foreach (var p in parametersOf[b]) bucketOf[p] = b;

        // A bucket may hold parameters of a hooked module and of one no hook covers (the small bucket: a stem's and a
        // directly called classifier's biases): only a bucket whose every parameter is covered may wait for a hook.
        var covered = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        foreach (var (name, module) in modules)
        {
            if (!CalledThroughHooks(model, modules, name) || module is not nn.Module<Tensor, Tensor> hookable) continue;
            var inside = module.parameters().Where(bucketOf.ContainsKey).ToList();
            covered.UnionWith(inside);
            var needed = inside.Select(p => bucketOf[p]).Distinct().Order().ToArray();
            if (needed.Length == 0) continue;
            hooks.Add(new PreHookRegistration(hookable.register_forward_pre_hook((_, input) =>
            {
                foreach (int b in needed) Apply(b);
                return input;
            })));
        }
        upfront = Enumerable.Range(0, parametersOf.Length).Where(b => !parametersOf[b].All(covered.Contains)).ToArray();
    }

    /// <summary>Whether a step's update waits to be applied.</summary>
    public bool Pending => settings is not null;

    /// <summary>The step just synchronized (<see cref="IGradientSynchronizer.SynchronizeDeferred"/>) is applied by the
    /// next forward, with <paramref name="stepSettings"/>, or skipped when <paramref name="agreed"/> is false.</summary>
    public void Defer(OptimizerSettings stepSettings, bool agreed)
    {
        if (Pending) throw new InvalidOperationException("the previous step's update is still deferred");
        settings = stepSettings;
        stepApplied = agreed;
        Array.Clear(applied);
    }

    /// <summary>Before the forward: the buckets no hooked module covers.</summary>
    public void BeforeForward()
    {
        if (!Pending) return;
        foreach (int b in upfront) Apply(b);
    }

    /// <summary>
    /// Applies whatever is still deferred and settles the step with the synchronizer; afterwards the parameters are the
    /// step's result and the synchronizer is free for other calls. Returns false when the step was applied but some bucket
    /// was not (its average was not finite); a step every worker skipped is reported with its record, not here.
    /// </summary>
    public bool Complete()
    {
        if (!Pending) return true;
        for (int b = 0; b < parametersOf.Length; b++) Apply(b);
        settings = null;
        return synchronizer.CompleteDeferred() || !stepApplied;
    }

    private void Apply(int bucket)
    {
        if (settings is not { } stepSettings || applied[bucket]) return;
        applied[bucket] = true;
        bool finite = synchronizer.AwaitBucket(bucket);
        if (stepApplied && finite)
        {
            OptimizerFactory.Apply(optimizer, stepSettings);
            StepOver(bucket);
        }
        using (no_grad())
        {
            foreach (var p in parametersOf[bucket])
            {
                using var grad = p.grad;
                grad?.zero_();
            }
        }
    }

    /// <summary>The optimizer's step restricted to bucket <paramref name="bucket"/>'s parameters: every group sees only its
    /// members among them (the groups' membership never changes, so each bucket's lists are made once).</summary>
    private void StepOver(int bucket)
    {
        var groups = optimizer.ParamGroups.Cast<ParamGroup>().ToArray();
        var all = groups.Select(g => g.Parameters).ToArray();
        var subsets = groupSubsets[bucket] ??= SubsetsOf(groups, parametersOf[bucket]);
        try
        {
            for (int g = 0; g < groups.Length; g++) groups[g].Parameters = subsets[g];
            optimizer.step();
        }
        finally
        {
            for (int g = 0; g < groups.Length; g++) groups[g].Parameters = all[g];
        }
    }

    private static List<Parameter>[] SubsetsOf(ParamGroup[] groups, List<Parameter> bucket)
    {
        var members = new HashSet<Parameter>(bucket, ReferenceEqualityComparer.Instance);
        return groups.Select(g => g.Parameters.Where(members.Contains).ToList()).ToArray();
    }

    /// <summary>Whether a forward of the root runs <paramref name="name"/>'s hooks: it is a direct child of a <c>Sequential</c>
    /// whose own calls run hooks, or the root is a <c>Sequential</c> and it is its child.</summary>
    private static bool CalledThroughHooks(nn.Module model, Dictionary<string, nn.Module> modules, string name)
    {
        if (name.Length == 0) return false;
        int dot = name.LastIndexOf('.');
        return (dot < 0 ? model : modules.GetValueOrDefault(name[..dot])) is Sequential;
    }

    public void Dispose()
    {
        foreach (var hook in hooks) hook.Dispose();
        hooks.Clear();
    }
}
