using System.Diagnostics;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// Writes a grain's state so that a storage which lost it (a Redis that restarted empty, keys evicted) gets it back
/// from the grain's memory instead of failing every later write: Orleans refuses a write whose ETag no longer matches
/// anything stored. Any other failure re-reads the stored state, so memory never runs ahead of storage, and rethrows.
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
            bool hadRecord = state.Etag is not null;
            await state.ReadStateAsync(); // throws on its own when the storage is unreachable
            if (!hadRecord || state.RecordExists) throw; // a real conflict, or a failure that was not a lost record
            Trace.TraceWarning($"{what}: its stored state was gone ({e.GetType().Name}; did Redis restart empty?); writing it back from memory");
            state.State = desired;
            await state.WriteStateAsync();
            Trace.TraceInformation($"{what}: stored state written back");
            return true;
        }
    }
}
