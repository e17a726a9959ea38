namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// When a parameter's gradient is final during a backward, judged from module calls (pure logic; the torch side is
/// <see cref="BackwardReadiness"/>). During the forward each call of a module through its hooks is recorded, with a
/// marker when its input takes part in the backward; in the backward a marker fires once everything the call computed
/// has been differentiated, its parameters' gradients included (see remarks). A parameter is final once every call of
/// the module that governs it has fired.
/// </summary>
/// <remarks>
/// <para>
/// Why a fired marker means final gradients: on one device libtorch's engine runs the ready node with the highest
/// sequence number first (numbers grow in creation order) and gradient accumulation into a leaf before anything else.
/// A marker is created before the call's own operations, so it has a lower number than all of them: when it runs, every
/// node of the graph created after it has run, and so has the accumulation of every gradient they produced.
/// </para>
/// <para>
/// The governing module of a parameter is the innermost module, from the one that registers it up to the root, that
/// was called through its hooks in this forward: TorchSharp runs hooks only for <c>module.call(x)</c> (what
/// <c>Sequential</c> does), not for a direct <c>forward(x)</c>, so a layer called directly inside a residual block is
/// covered by the block's call. A parameter whose governing module was called at least once without a marker (its input
/// needs no gradient: the first layer), or that no called module covers, is final only when the backward ends. This
/// assumes what every model here does: a parameter is used inside calls of the modules that register it, not elsewhere.
/// The tests check every model of the registry against the actual gradients.
/// </para>
/// </remarks>
public sealed class ModuleReadiness
{
    private readonly int[] parentOf;
    private readonly int[][] ownersOf;
    private readonly int[] marked;
    private readonly int[] unmarked;
    private readonly List<int> markerModule = [];
    private int[][] governedBy = [];
    private int[] pending = [];
    private bool sealedForward;

    /// <param name="parentOf">For each module, the index of the module that contains it (-1 for the root).</param>
    /// <param name="ownersOf">For each parameter, the modules that register it directly (usually one).</param>
    public ModuleReadiness(IReadOnlyList<int> parentOf, IReadOnlyList<IReadOnlyList<int>> ownersOf)
    {
        this.parentOf = [.. parentOf];
        for (int m = 0; m < this.parentOf.Length; m++)
        {
            if (this.parentOf[m] < -1 || this.parentOf[m] >= this.parentOf.Length)
                throw new ArgumentOutOfRangeException(nameof(parentOf), this.parentOf[m], $"module {m}'s parent is not a module index");
            // A cycle would make the walk to the root endless: every chain must reach -1 within Length steps.
            int at = m;
            for (int steps = 0; at >= 0; steps++, at = this.parentOf[at])
                if (steps > this.parentOf.Length) throw new ArgumentException($"module {m}'s parents form a cycle", nameof(parentOf));
        }
        this.ownersOf = ownersOf.Select(o => o.ToArray()).ToArray();
        foreach (var owners in this.ownersOf)
            foreach (int o in owners)
                if ((uint)o >= (uint)this.parentOf.Length) throw new ArgumentOutOfRangeException(nameof(ownersOf), o, "an owner is not a module index");
        marked = new int[this.parentOf.Length];
        unmarked = new int[this.parentOf.Length];
    }

    /// <summary>Number of parameters.</summary>
    public int Parameters => ownersOf.Length;

    /// <summary>A new forward: no call recorded.</summary>
    public void Reset()
    {
        Array.Clear(marked);
        Array.Clear(unmarked);
        markerModule.Clear();
        sealedForward = false;
    }

    /// <summary>
    /// Records a call of <paramref name="module"/> in the forward. Returns the marker's id when the call has one
    /// (<paramref name="withMarker"/>: its input takes part in the backward), else -1.
    /// </summary>
    public int Called(int module, bool withMarker)
    {
        if (sealedForward) throw new InvalidOperationException("a module was called after the backward began; call Reset before the next forward");
        if (!withMarker)
        {
            unmarked[module]++;
            return -1;
        }
        marked[module]++;
        markerModule.Add(module);
        return markerModule.Count - 1;
    }

    /// <summary>
    /// Marker <paramref name="marker"/> fired in the backward. Returns the parameters whose gradients became final with it.
    /// The first marker ends the forward: no call may be recorded after it until <see cref="Reset"/>.
    /// </summary>
    public IReadOnlyList<int> Fired(int marker)
    {
        if (!sealedForward) Seal();
        var final = new List<int>();
        foreach (int p in governedBy[markerModule[marker]])
            if (--pending[p] == 0) final.Add(p);
        return final;
    }

    /// <summary>The governing module of every parameter, as this forward's calls decide it (see remarks).</summary>
    private void Seal()
    {
        sealedForward = true;
        pending = new int[ownersOf.Length];
        var governed = Enumerable.Range(0, parentOf.Length).Select(_ => new List<int>()).ToArray();
        for (int p = 0; p < ownersOf.Length; p++)
        {
            var governors = new HashSet<int>();
            bool waitsForTheEnd = ownersOf[p].Length == 0;
            foreach (int owner in ownersOf[p])
            {
                int m = owner;
                while (m >= 0 && marked[m] + unmarked[m] == 0) m = parentOf[m];
                if (m < 0 || unmarked[m] > 0) waitsForTheEnd = true;
                else governors.Add(m);
            }
            if (waitsForTheEnd || governors.Count == 0) continue; // pending 0: no marker ever makes it final
            foreach (int m in governors)
            {
                pending[p] += marked[m];
                governed[m].Add(p);
            }
        }
        governedBy = governed.Select(g => g.ToArray()).ToArray();
    }
}
