namespace Orchestrator.Trainer.PostTraining;

/// <summary>What post-training quantization tells its user while it works (the command shows a progress bar).</summary>
public interface IQuantizeProgress
{
    /// <summary>A long step starts (e.g. <c>AdaQuant features.conv2 (4 bits)</c>).</summary>
    void Stage(string name);

    /// <summary>The current step's fraction done (0..1).</summary>
    void Report(double fraction);

    /// <summary>Something the user should know (a stage kept or reverted, a fallback).</summary>
    void Notice(string message);
}
