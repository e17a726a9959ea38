using Orchestrator.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Tells, during a backward, which gradient buckets hold final gradients, so their averaging can start while the
/// backward goes on (<c>compression.overlap</c>). TorchSharp 0.107 has no tensor gradient hooks
/// (<c>register_hook</c>, post-accumulate hooks) and no module backward hooks; it has forward pre-hooks and custom
/// autograd functions. So, when armed, a forward pre-hook on every module passes the module's input through
/// <see cref="BackwardMarker"/>, an identity whose backward runs once the module call's backward has run, parameter
/// gradients included (<see cref="ModuleReadiness"/> explains why and which parameters that covers), and
/// <see cref="BucketReadiness"/> turns final parameters into buckets that may start, in the fixed order.
/// </summary>
/// <remarks>
/// The marker is an alias of the input, so it costs one autograd node and one managed call per module call, no copy.
/// The hooks stay registered for the model's life and do nothing unless armed (one forward and backward per step: the
/// last micro-batch's). Callbacks come on the thread that runs the backward (the caller's on CPU).
/// </remarks>
internal sealed class BackwardReadiness : IDisposable
{
    private readonly Lock gate = new();
    private readonly ModuleReadiness modules;
    private readonly BucketReadiness buckets;
    private readonly Action<int> start;
    private readonly List<IDisposable> hooks = [];
    private bool armed;

    private BackwardReadiness(ModuleReadiness modules, BucketReadiness buckets, Action<int> start)
    {
        this.modules = modules;
        this.buckets = buckets;
        this.start = start;
    }

    /// <summary>The fixed order in which buckets start.</summary>
    public IReadOnlyList<int> Order => buckets.Order;

    /// <summary>
    /// Hooks every module of <paramref name="model"/>; <paramref name="start"/> is called with each bucket index (of
    /// <paramref name="bucketParameterNames"/>, per bucket the names its gradients belong to, as
    /// <c>named_parameters</c> gives them) once it may start, in <see cref="Order"/>, on the backward's thread.
    /// </summary>
    public static BackwardReadiness Attach(nn.Module model, IReadOnlyList<IReadOnlyList<string>> bucketParameterNames, Action<int> start)
    {
        var modules = new List<(string Name, nn.Module Module)> { ("", model) };
        modules.AddRange(model.named_modules().Where(m => !ReferenceEquals(m.module, model)).Select(m => (m.name, m.module)));
        var moduleIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int m = 0; m < modules.Count; m++) moduleIndex.TryAdd(modules[m].Name, m);
        var parentOf = modules.Select(m => ParentOf(m.Name, moduleIndex)).ToArray();

        var parameters = model.named_parameters().ToList();
        var parameterNames = parameters.Select(p => p.name).ToList();
        var parameterIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int p = 0; p < parameterNames.Count; p++) parameterIndex.TryAdd(parameterNames[p], p);
        // By object, not name: a parameter registered in two modules (tied weights) is owned by both, under either name.
        var indicesOf = new Dictionary<object, List<int>>(ReferenceEqualityComparer.Instance);
        for (int p = 0; p < parameters.Count; p++)
        {
            if (!indicesOf.TryGetValue(parameters[p].parameter, out var indices)) indicesOf[parameters[p].parameter] = indices = [];
            indices.Add(p);
        }
        var ownersOf = parameterNames.Select(_ => new List<int>()).ToArray();
        for (int m = 0; m < modules.Count; m++)
        {
            foreach (var (_, parameter) in modules[m].Module.named_parameters(recurse: false))
                foreach (int p in indicesOf.GetValueOrDefault(parameter, []))
                    if (!ownersOf[p].Contains(m)) ownersOf[p].Add(m);
        }

        var bucketParameters = bucketParameterNames
            .Select(names => (IReadOnlyList<int>)names.Select(n => parameterIndex.TryGetValue(n, out int p) ? p
                : throw new ArgumentException($"bucket parameter {n} is not a parameter of the model", nameof(bucketParameterNames))).ToArray())
            .ToList();
        var late = LateParameters(modules.Select(m => m.Module).ToList(), parentOf, ownersOf);
        var readiness = new BackwardReadiness(new ModuleReadiness(parentOf, ownersOf), new BucketReadiness(bucketParameters, parameterNames.Count, late), start);
        for (int m = 0; m < modules.Count; m++)
        {
            if (modules[m].Module is not nn.Module<Tensor, Tensor> hookable) continue; // other signatures: covered by a parent's call, or at the end
            int module = m;
            readiness.hooks.Add(new PreHookRegistration(hookable.register_forward_pre_hook((_, input) => readiness.Before(module, input))));
        }
        return readiness;
    }

    /// <summary>The next forward (the step's last micro-batch) and its backward report final gradients.</summary>
    public void Arm()
    {
        lock (gate)
        {
            modules.Reset();
            buckets.Reset();
            armed = true;
        }
    }

    /// <summary>
    /// The backward is over (or the step had no armed pass): disarms and returns the buckets that have not started, in
    /// order; all of them when nothing was armed. Ready for the next step.
    /// </summary>
    public IReadOnlyList<int> Finish()
    {
        lock (gate)
        {
            armed = false;
            var rest = buckets.Rest();
            modules.Reset();
            buckets.Reset();
            return rest;
        }
    }

    private Tensor Before(int module, Tensor input)
    {
        lock (gate)
        {
            if (!armed) return input;
            bool withMarker = input.requires_grad && is_grad_enabled();
            int marker = modules.Called(module, withMarker);
            return withMarker ? CustomFunctionApply.Scoped(() => BackwardMarker.apply(input, new MarkerToken(this, marker))) : input;
        }
    }

    private void Fired(int marker)
    {
        lock (gate)
        {
            if (!armed) return; // a backward of an earlier pass's graph kept alive elsewhere: not this step's
            foreach (int p in modules.Fired(marker))
                foreach (int b in buckets.Final(p))
                    start(b);
        }
    }

    /// <summary>
    /// The parameters that no module call with hooks can cover, judged from the structure alone (so every rank agrees):
    /// TorchSharp's <c>Sequential</c> calls its children through their hooks, while a model's own <c>forward</c> may call
    /// its layers directly (the ResNet's classifier), which runs no hook. A parameter none of whose owners has an
    /// ancestor-or-self inside a <c>Sequential</c> is final only when the backward ends.
    /// </summary>
    private static HashSet<int> LateParameters(List<nn.Module> modules, int[] parentOf, List<int>[] ownersOf)
    {
        bool Reachable(int m)
        {
            for (; m >= 0; m = parentOf[m])
                if (parentOf[m] >= 0 && modules[parentOf[m]] is TorchSharp.Modules.Sequential) return true;
            return false;
        }
        var late = new HashSet<int>();
        for (int p = 0; p < ownersOf.Length; p++)
            if (!ownersOf[p].Any(Reachable)) late.Add(p);
        return late;
    }

    private static int ParentOf(string name, Dictionary<string, int> moduleIndex)
    {
        if (name.Length == 0) return -1;
        int dot = name.LastIndexOf('.');
        return dot < 0 ? 0 : moduleIndex.GetValueOrDefault(name[..dot], 0);
    }

    public void Dispose()
    {
        foreach (var hook in hooks) hook.Dispose();
        hooks.Clear();
    }

    /// <summary>What a marker's backward reports to (kept in its autograd context).</summary>
    private sealed record MarkerToken(BackwardReadiness Owner, int Marker)
    {
        public void Fire() => Owner.Fired(Marker);
    }

    /// <summary>
    /// Identity in the forward (an alias of its input, no copy); its backward reports to the marker's token, then passes
    /// the gradient through unchanged.
    /// </summary>
    private sealed class BackwardMarker : autograd.SingleTensorFunction<BackwardMarker>
    {
        private const string TokenKey = "token";

        public override string Name => nameof(BackwardMarker);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            ctx.save_data(TokenKey, vars[1]);
            ctx.set_materialize_grads(false); // see CustomFunctionApply; an undefined gradient passes through as it is
            return ((Tensor)vars[0]).alias();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            ((MarkerToken)ctx.get_data(TokenKey)).Fire();
            return [grad_output, null!]; // no gradient for the token, which is not a tensor
        }
    }
}
