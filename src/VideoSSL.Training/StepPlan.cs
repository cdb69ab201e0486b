using VideoSSL.Training.Config;

namespace VideoSSL.Training;

/// <summary>
/// How a run's epochs turn into optimizer steps and learning rates, shared by pretraining and fine-tuning:
/// lr = base_lr × (batch_size × accum_steps) / 256 as the official code scales it (videos per step, not
/// repeated-augmentation views); batches past the last whole accumulation group of an epoch are skipped.
/// </summary>
public sealed record StepPlan(int Accum, int StepsPerEpoch, long TotalSteps, long WarmupSteps, long EffectiveBatch, double PeakLr, double MinLr)
{
    public static StepPlan Create(int batchesPerEpoch, int batchSize, int accumSteps, int epochs, long maxSteps, double warmupEpochs, double baseLr, double minLr)
    {
        var accum = Math.Max(1, accumSteps);
        if (batchesPerEpoch < accum)
        {
            throw new ConfigException($"train.accum_steps={accum} exceeds the {batchesPerEpoch} batches of one epoch: use more data or a smaller train.batch_size");
        }
        var stepsPerEpoch = batchesPerEpoch / accum;
        var totalSteps = (long)epochs * stepsPerEpoch;
        if (maxSteps > 0)
        {
            totalSteps = Math.Min(totalSteps, maxSteps);
        }
        var effectiveBatch = (long)batchSize * accum;
        return new StepPlan(accum, stepsPerEpoch, totalSteps, (long)Math.Round(warmupEpochs * stepsPerEpoch), effectiveBatch,
            baseLr * effectiveBatch / 256, minLr * effectiveBatch / 256);
    }
}
