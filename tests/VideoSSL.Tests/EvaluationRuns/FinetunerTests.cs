using VideoSSL.Models;
using VideoSSL.Training.Config;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.EvaluationRuns;

using static VideoSSL.Torch.Torch;

// Alone: the runs draw from libtorch's global RNG (init, drop path), which parallel tests would also draw from.
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class FinetunerTests
{
    private static Finetuner.Result Train(FinetuneConfig config, string? runDir, bool resume, out string dir, long stopAt = long.MaxValue, int views = 1, bool select = false)
    {
        ManualSeed(3);
        using var model = new VideoViTClassifier(EvalSetup.ModelConfig(config.Model), TinyClips.Classes);
        using var run = TinyClips.NewRun(config, runDir, resume);
        dir = run.Path;
        var train = TinyClips.Loader(TinyClips.Dataset(24, "train"), config.Train.BatchSize, 1, train: true, augment: true, views);
        var val = TinyClips.Loader(TinyClips.Dataset(12, "val"), 6, 1, train: false, augment: false);
        var selection = select ? TinyClips.Loader(TinyClips.Dataset(9, "select"), 3, 1, train: false, augment: false) : null;
        var finetuner = new Finetuner(config, model, train, val, run, VideoSSL.Torch.Device.CPU, output: TextWriter.Null, select: selection);
        return finetuner.Run(resume ? run.LastCheckpoint : null, stopAt);
    }

    [Fact]
    public void A_tiny_finetune_learns_the_lit_channel()
    {
        var config = TinyClips.Finetune("train.epochs=8", "train.batch_size=4", "train.base_lr=0.4", "train.warmup_epochs=1", "model.drop_path=0",
            "aug.mixup=0", "aug.cutmix=0", "aug.reprob=0", "aug.num_sample=1", "log.every_steps=1", "log.checkpoint_every_steps=1000");
        var result = Train(config, null, false, out var dir);
        Assert.Equal(48, result.Steps);
        var evals = TinyClips.MetricLines(dir).Where(l => l.TryGetProperty("val/acc1", out _)).ToList();
        Assert.Equal(8, evals.Count); // one validation per epoch, with the keys RunPlots draws
        Assert.All(evals, l => Assert.True(l.TryGetProperty("val/loss", out _) && l.TryGetProperty("val/acc5", out _) && l.TryGetProperty("train/acc1", out _)));
        // Chance is 1/3; the classes differ by which channel is lit, which a learning classifier finds in 48 steps.
        Assert.True(result.LastEval!.Metrics.Top1 >= 0.9, $"val acc1 {result.LastEval.Metrics.Top1}");
        // No selection split: nothing is chosen on the validation split; the final epoch is the result.
        Assert.False(File.Exists(Path.Combine(dir, "checkpoints", Finetuner.BestCheckpointName)));
        Assert.Equal(evals[^1].GetProperty("val/acc1").GetDouble(), result.LastEval.Metrics.Top1);
    }

    [Fact]
    public void Only_a_separate_selection_split_chooses_the_best_epoch()
    {
        var config = TinyClips.Finetune("train.epochs=3", "train.batch_size=4", "train.base_lr=0.4", "train.warmup_epochs=1", "model.drop_path=0",
            "aug.mixup=0", "aug.cutmix=0", "aug.reprob=0", "aug.num_sample=1", "log.every_steps=1", "log.checkpoint_every_steps=1000");
        var result = Train(config, null, false, out var dir, select: true);
        var selections = TinyClips.MetricLines(dir).Where(l => l.TryGetProperty("select/acc1", out _)).Select(l => l.GetProperty("select/acc1").GetDouble()).ToList();
        Assert.Equal(3, selections.Count);
        Assert.Equal(selections.Max(), result.BestAcc1);
        Assert.True(File.Exists(Path.Combine(dir, "checkpoints", Finetuner.BestCheckpointName)));
    }

    [Fact]
    public void Finetuning_logs_its_steps_with_the_keys_of_pretraining()
    {
        // One loop for both: the per-step lines carry the same keys (fine-tuning's own are validation's).
        var config = TinyClips.Finetune("train.epochs=1", "train.batch_size=4", "train.max_steps=2", "train.warmup_epochs=1", "aug.mixup=0", "aug.cutmix=0",
            "aug.num_sample=1", "log.every_steps=1", "log.checkpoint_every_steps=1000");
        RaisePeakAndRelease(192);
        double peakBefore = VmHwmMib();
        Train(config, null, false, out var dir);
        var steps = TinyClips.MetricLines(dir).Where(l => !l.TryGetProperty("val/acc1", out _)).ToList();
        Assert.Equal(2, steps.Count);
        string[] keys = ["step", "epoch", "train/loss", "opt/lr", "opt/grad_norm", "perf/clips_per_s", "mem/peak_mib", "time", "sched/wd"];
        Assert.All(steps, l => Assert.Equal(keys.Order(StringComparer.Ordinal), l.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)));

        // On the CPU the peak is the process's high-water mark: never below what it was before the run, never falling.
        // (The current resident size, logged before, sat hundreds of MiB under it once glibc had returned memory.)
        var peaks = steps.Select(l => l.GetProperty("mem/peak_mib").GetDouble()).ToList();
        Assert.True(peaks[0] >= peakBefore - 1, $"mem/peak_mib {peaks[0]:F0} is under the process's peak before the run, {peakBefore:F0} MiB");
        Assert.True(peaks[1] >= peaks[0], $"mem/peak_mib fell from {peaks[0]:F0} to {peaks[1]:F0}");
    }

    [Fact]
    public void A_stopped_and_resumed_finetune_gives_identical_losses_and_validations()
    {
        // Everything random at once: mixup/cutmix, random erasing, drop path, repeated augmentation (2 views per video).
        var config = TinyClips.Finetune("train.epochs=3", "train.batch_size=4", "train.base_lr=0.2", "train.warmup_epochs=1", "model.drop_path=0.2",
            "aug.mixup=0.8", "aug.cutmix=1.0", "aug.reprob=0.5", "aug.num_sample=2", "log.every_steps=1", "log.checkpoint_every_steps=1000");
        Train(config, null, false, out var fullDir, views: 2);
        Train(config, null, false, out var partialDir, stopAt: 8, views: 2);
        Train(config, partialDir, resume: true, out _, views: 2);
        var full = TinyClips.MetricLines(fullDir);
        var resumed = TinyClips.MetricLines(partialDir);
        static List<double> Values(List<System.Text.Json.JsonElement> lines, string key) =>
            [.. lines.Where(l => l.TryGetProperty(key, out _)).Select(l => l.GetProperty(key).GetDouble())];
        Assert.Equal(18, Values(full, "opt/lr").Count);
        Assert.Equal(Values(full, "opt/lr"), Values(resumed, "opt/lr"));
        Assert.Equal(Values(full.Where(l => !l.TryGetProperty("val/acc1", out _)).ToList(), "train/loss"),
            Values(resumed.Where(l => !l.TryGetProperty("val/acc1", out _)).ToList(), "train/loss"));
        Assert.Equal(Values(full, "val/loss"), Values(resumed, "val/loss"));
    }

    /// <summary>Touches and frees a block the size of <paramref name="mib"/> (mmapped by glibc, so unmapped on free): the resident size falls back, its high-water mark stays.</summary>
    private static unsafe void RaisePeakAndRelease(int mib)
    {
        nuint bytes = (nuint)mib << 20;
        byte* block = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(bytes);
        try
        {
            for (nuint i = 0; i < bytes; i += 4096)
            {
                block[i] = 1;
            }
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(block);
        }
    }

    private static double VmHwmMib()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }
}
