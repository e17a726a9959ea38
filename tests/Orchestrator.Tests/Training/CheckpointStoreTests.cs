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
