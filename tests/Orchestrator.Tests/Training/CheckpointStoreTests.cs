using Orchestrator.Trainer.Checkpointing;

namespace Orchestrator.Tests.Training;

public sealed class CheckpointStoreTests
{
    private static readonly byte[] Model = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
    private static readonly byte[] Optimizer = [9, 8, 7];

    [Fact]
    public void Round_trips_position_fingerprint_and_states()
    {
        using var dir = new TempDirectory();
        var store = new CheckpointStore(dir.Path, keep: 3);
        store.Save(new TrainingPosition(42, 3, 1280), "cnn/w4", Model, Optimizer);

        var loaded = store.LoadNewestValid(_ => Assert.Fail("nothing should be skipped"))!;
        Assert.Equal(new TrainingPosition(42, 3, 1280), loaded.Position);
        Assert.Equal("cnn/w4", loaded.ModelFingerprint);
        Assert.Equal(Model, loaded.ModelState);
        Assert.Equal(Optimizer, loaded.OptimizerState);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Round_trips_the_synchronizer_state()
    {
        using var dir = new TempDirectory();
        var store = new CheckpointStore(dir.Path, keep: 3);
        byte[] residuals = [1, 2, 3, 4, 5];
        store.Save(new TrainingPosition(7, 0, 64), "m", Model, Optimizer, residuals);
        store.Save(new TrainingPosition(8, 0, 128), "m", Model, Optimizer);

        Assert.Equal(residuals, CheckpointStore.Read(store.List()[1]).SynchronizerState);
        Assert.Empty(store.LoadNewestValid(_ => { })!.SynchronizerState);
    }

    [Fact]
    public void A_file_written_before_the_synchronizer_section_existed_still_loads()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "ckpt-0000000003.bin");
        // The earlier layout: magic | header | model | optimizer | SHA-256, nothing after the optimizer.
        var header = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { Step = 3L, Epoch = 0, Offset = 192L, Model = "m", Skipped = 0L });
        byte[] body = [.. "ORCKPT01"u8, .. BitConverter.GetBytes(header.Length), .. header,
            .. BitConverter.GetBytes((long)Model.Length), .. Model, .. BitConverter.GetBytes((long)Optimizer.Length), .. Optimizer];
        File.WriteAllBytes(path, [.. body, .. System.Security.Cryptography.SHA256.HashData(body)]);

        var loaded = CheckpointStore.Read(path);
        Assert.Equal(new TrainingPosition(3, 0, 192), loaded.Position);
        Assert.Equal(Optimizer, loaded.OptimizerState);
        Assert.Empty(loaded.SynchronizerState);
    }

    [Fact]
    public void Keeps_only_the_newest_k()
    {
        using var dir = new TempDirectory();
        var store = new CheckpointStore(dir.Path, keep: 2);
        foreach (var step in new long[] { 5, 10, 15, 20 })
            store.Save(new TrainingPosition(step, 0, 0), "m", Model, Optimizer);
        Assert.Equal(["ckpt-0000000020.bin", "ckpt-0000000015.bin"], store.List().Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    [InlineData("magic")]
    [InlineData("empty")]
    public void Damaged_newest_file_is_skipped_with_a_notice(string damage)
    {
        using var dir = new TempDirectory();
        var store = new CheckpointStore(dir.Path, keep: 5);
        store.Save(new TrainingPosition(1, 0, 0), "m", Model, Optimizer);
        var newest = store.Save(new TrainingPosition(2, 0, 0), "m", Model, Optimizer);
        var bytes = File.ReadAllBytes(newest);
        File.WriteAllBytes(newest, damage switch
        {
            "flip" => bytes.Select((b, i) => i == 600 ? (byte)(b ^ 1) : b).ToArray(),
            "truncate" => bytes[..(bytes.Length - 10)],
            "magic" => [.. "NOTACKPT"u8.ToArray(), .. bytes[8..]],
            _ => [],
        });

        var notices = new List<string>();
        var loaded = store.LoadNewestValid(notices.Add)!;
        Assert.Equal(1, loaded.Position.Step);
        Assert.Single(notices);
        Assert.Contains("ckpt-0000000002.bin", notices[0]);
    }

    [Fact]
    public void Leftover_temp_files_of_an_interrupted_write_are_ignored()
    {
        using var dir = new TempDirectory();
        var store = new CheckpointStore(dir.Path, keep: 5);
        store.Save(new TrainingPosition(1, 0, 0), "m", Model, Optimizer);
        File.WriteAllBytes(Path.Combine(dir.Path, "ckpt-0000000009.bin.tmp"), [1, 2, 3]);
        Assert.Equal(1, store.LoadNewestValid(_ => { })!.Position.Step);
    }
}
