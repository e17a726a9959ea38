using System.Collections;
using System.Runtime.CompilerServices;

namespace Orchestrator.Spec;

/// <summary>
/// An immutable list with value equality, so spec records holding lists still compare by content
/// (records compare members with <c>Equals</c>; plain lists compare by reference).
/// </summary>
[CollectionBuilder(typeof(ValueList), nameof(ValueList.Create))]
public sealed class ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly T[] items;

    public ValueList(IEnumerable<T> items) => this.items = items.ToArray();

    public T this[int index] => items[index];
    public int Count => items.Length;
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => items.GetEnumerator();

    public bool Equals(ValueList<T>? other) => other is not null && items.SequenceEqual(other.items);
    public override bool Equals(object? obj) => Equals(obj as ValueList<T>);
    public override int GetHashCode() => items.Aggregate(items.Length, (h, x) => HashCode.Combine(h, x));
    public override string ToString() => "[" + string.Join(", ", items) + "]";
}

/// <summary>Builds <see cref="ValueList{T}"/> from collection expressions.</summary>
public static class ValueList
{
    public static ValueList<T> Create<T>(ReadOnlySpan<T> items) => new(items.ToArray());
}
