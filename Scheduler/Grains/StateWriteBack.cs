using System.Diagnostics;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// Writes a grain's state so that a storage which lost it (a Redis that restarted empty, keys evicted) gets it back
/// from the grain's memory instead of failing every later write: Orleans refuses a write whose ETag no longer matches
/// anything stored. A write that timed out while the stored record stayed as it was (a loaded machine, a Redis busy
/// with a dead silo's membership) is tried once more. Any other failure re-reads the stored state, so memory never
/// runs ahead of storage, and rethrows.
/// </summary>
public static class StateWriteBack
{
    /// <summary>Stores <paramref name="desired"/>; returns true when the stored record had vanished and was written back.</summary>
    public static async Task<bool> WriteAsync<T>(IPersistentState<T> state, T desired, string what)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.State = desired;
        try
        {
            await state.WriteStateAsync();
            return false;
        }
        catch (Exception e)
        {
            var etag = state.Etag;
            await state.ReadStateAsync(); // throws on its own when the storage is unreachable
            if (etag is not null && !state.RecordExists)
            {
                Trace.TraceWarning($"{what}: its stored state was gone ({e.GetType().Name}; did Redis restart empty?); writing it back from memory");
                await WriteOrRestoreAsync(state, desired);
                Trace.TraceInformation($"{what}: stored state written back");
                return true;
            }
            if (!IsTimeout(e) || state.Etag != etag) throw; // a real conflict, or a failure a retry would not cure
            Trace.TraceWarning($"{what}: writing its state timed out ({e.GetType().Name}); trying once more");
            await WriteOrRestoreAsync(state, desired);
            return false;
        }
    }

    /// <summary>
    /// Writes the state in memory back when the stored record is gone (the storage lost it); true when it did. A record
    /// that is still there (or was rewritten by another activation meanwhile) is left as stored and read into memory.
    /// </summary>
    public static async Task<bool> WriteBackIfLostAsync<T>(IPersistentState<T> state, string what)
    {
        ArgumentNullException.ThrowIfNull(state);
        var mine = state.State;
        var etag = state.Etag;
        if (etag is null) return false; // never stored: nothing could be lost
        await state.ReadStateAsync();
        if (state.RecordExists)
            return false;
        Trace.TraceWarning($"{what}: its stored state was gone (did Redis restart empty?); writing it back from memory");
        await WriteOrRestoreAsync(state, mine);
        return true;
    }

    private static async Task WriteOrRestoreAsync<T>(IPersistentState<T> state, T desired)
    {
        state.State = desired;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            await state.ReadStateAsync();
            throw;
        }
    }

    private static bool IsTimeout(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is TimeoutException or OperationCanceledException || x.GetType().Name.Contains("Timeout", StringComparison.Ordinal))
                return true;
        return false;
    }
}
