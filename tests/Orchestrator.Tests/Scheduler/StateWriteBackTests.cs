using Orleans.Storage;
using Orchestrator.Scheduler.Grains;

namespace Orchestrator.Tests.Scheduler;

/// <summary>How a grain's state write treats a storage that lost the record, a write that timed out, and a real conflict.</summary>
public sealed class StateWriteBackTests
{
    /// <summary>A storage in memory whose next writes fail as told, and whose record can vanish (a Redis restarted empty).</summary>
    private sealed class Storage : IPersistentState<string>
    {
        public string? Stored;
        public int Version;
        public readonly Queue<Exception> Failures = new();

        public string State { get; set; } = "";
        public string? Etag { get; private set; }
        public bool RecordExists => Etag is not null;

        public Task ReadStateAsync()
        {
            State = Stored ?? "";
            Etag = Stored is null ? null : Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }

        public Task WriteStateAsync()
        {
            if (Failures.TryDequeue(out var failure)) return Task.FromException(failure);
            var current = Stored is null ? null : Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (Etag != current) return Task.FromException(new InconsistentStateException("ETag mismatch", current ?? "", Etag ?? ""));
            Stored = State;
            Version++;
            Etag = Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }

        public Task ClearStateAsync() => throw new NotSupportedException();
    }

    [Fact]
    public async Task A_record_the_storage_lost_is_written_back_from_memory()
    {
        var storage = new Storage();
        Assert.False(await StateWriteBack.WriteAsync(storage, "running", "job"));
        storage.Stored = null; // Redis restarted empty

        Assert.True(await StateWriteBack.WriteAsync(storage, "succeeded", "job"));
        Assert.Equal("succeeded", storage.Stored);
        Assert.True(storage.RecordExists);
    }

    [Fact]
    public async Task A_timed_out_write_is_tried_once_more_and_a_second_failure_leaves_memory_as_stored()
    {
        var storage = new Storage();
        await StateWriteBack.WriteAsync(storage, "running", "job");
        storage.Failures.Enqueue(new TaskCanceledException());
        Assert.False(await StateWriteBack.WriteAsync(storage, "cancelled", "job"));
        Assert.Equal("cancelled", storage.Stored);

        storage.Failures.Enqueue(new TimeoutException());
        storage.Failures.Enqueue(new TimeoutException());
        await Assert.ThrowsAsync<TimeoutException>(() => StateWriteBack.WriteAsync(storage, "failed", "job"));
        Assert.Equal(("cancelled", "cancelled"), (storage.Stored, storage.State));
    }

    [Fact]
    public async Task A_real_conflict_is_not_overwritten()
    {
        var storage = new Storage();
        await StateWriteBack.WriteAsync(storage, "running", "job");
        storage.Stored = "cancelled by another silo";
        storage.Version++;

        await Assert.ThrowsAsync<InconsistentStateException>(() => StateWriteBack.WriteAsync(storage, "succeeded", "job"));
        Assert.Equal(("cancelled by another silo", "cancelled by another silo"), (storage.Stored, storage.State));
    }
}
