namespace Orchestrator.Tests.Cli;

/// <summary>Damaged checkpoints in the run directory: fall back to an older valid one, or stop with a clear message.</summary>
public sealed class CheckpointCliTests
{
    /// <summary>Trains the tiny job to completion (32 steps; checkpoints every 2, the newest 5 kept) and returns them, newest first.</summary>
    private static (string Spec, string Run, string[] Checkpoints) TrainOnce(TempDirectory dir)
    {
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic("{every_steps: 2, keep: 5}"));
        var run = dir.File("run");
        CliAssert.Success(CliRunner.Train(dir.Path, spec, "--out", run));
        var checkpoints = Directory.GetFiles(Path.Combine(run, "checkpoints"), "ckpt-*.bin").OrderDescending(StringComparer.Ordinal).ToArray();
        Assert.Equal(5, checkpoints.Length);
        return (spec, run, checkpoints);
    }

    [Fact]
    public void Corrupt_newest_checkpoint_is_named_and_the_previous_one_is_used()
    {
        using var dir = new TempDirectory();
        var (spec, run, checkpoints) = TrainOnce(dir);
        var bytes = File.ReadAllBytes(checkpoints[0]);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(checkpoints[0], bytes);

        var result = CliRunner.Train(dir.Path, spec, "--out", run, "--set", "training.epochs=2");

        CliAssert.Success(result,
            $"checkpoint {checkpoints[0]} is unusable (checksum mismatch",
            "falling back to the previous one",
            $"resumed from {checkpoints[1]}");
    }

    [Fact]
    public void No_valid_checkpoint_is_a_user_error_and_fresh_starts_over()
    {
        using var dir = new TempDirectory();
        var (spec, run, checkpoints) = TrainOnce(dir);
        foreach (var checkpoint in checkpoints)
            using (var file = File.OpenWrite(checkpoint)) file.SetLength(file.Length / 3);

        var result = CliRunner.Train(dir.Path, spec, "--out", run, "--set", "training.epochs=2");

        CliAssert.UserError(result,
            $"{Path.Combine(run, "checkpoints")}: none of the 5 checkpoints is valid", "--fresh",
            $"checkpoint {checkpoints[^1]} is unusable", "no older checkpoint to fall back to");

        var fresh = CliRunner.Train(dir.Path, spec, "--out", run, "--fresh");
        CliAssert.Success(fresh, "finished");
        Assert.DoesNotContain("resumed from", fresh.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Rerunning_a_finished_job_trains_nothing_and_keeps_its_summary()
    {
        using var dir = new TempDirectory();
        var (spec, run, _) = TrainOnce(dir);
        var summary = File.ReadAllText(Path.Combine(run, "summary.json"));

        var again = CliRunner.Train(dir.Path, spec, "--out", run);

        CliAssert.Success(again, "already finished at step 32; nothing left to train");
        Assert.Equal(summary, File.ReadAllText(Path.Combine(run, "summary.json")));
    }
}
