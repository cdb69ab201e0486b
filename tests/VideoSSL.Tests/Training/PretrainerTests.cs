using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Training;

using static VideoSSL.Torch.Torch;
using TensorT = VideoSSL.Torch.Tensor;

[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class PretrainerTests
{
    /// <summary>A masked linear autoencoder: small, but uses every piece of the loop (masks from the step, dropout RNG, AdamW).</summary>
    private sealed class ToyTask : IPretrainTask
    {
        private readonly ToyModel _model = new();
        private readonly long _seed;

        public ToyTask(long seed, double poison = double.NaN, long breakWeightsAfter = -1, (StopSignal Signal, long Step)? stop = null)
        {
            _seed = seed;
            PoisonAtStep = poison;
            BreakWeightsAfter = breakWeightsAfter;
            Stop = stop;
        }

        /// <summary>Raises the stop request during this step, as a Ctrl-C arriving mid-step would.</summary>
        public (StopSignal Signal, long Step)? Stop { get; }

        public double PoisonAtStep { get; }

        /// <summary>Makes one weight NaN right after this step's update, while that step's loss was finite.</summary>
        public long BreakWeightsAfter { get; }

        public void AfterOptimizerStep(OptimizerStepContext context)
        {
            var step = context.Step;
            if (Stop is { } stop && step == stop.Step)
            {
                stop.Signal.Request(System.Runtime.InteropServices.PosixSignal.SIGINT);
            }
            if (step == BreakWeightsAfter)
            {
                using var noGrad = NoGrad();
                _model.Encoder.Weight.Value.Fill_(double.NaN);
            }
        }

        public Module Model => _model;

        public bool JepaSchedules { get; init; }

        public IReadOnlyList<ParamGroup> ParamGroups(double weightDecay) => [new ParamGroup([.. _model.Parameters()], weightDecay)];

        public PretrainOutput Loss(PretrainBatch batch)
        {
            var (clips, step) = (batch.Clips, batch.Step);
            var x = clips.Flatten(1);
            var random = new Random((int)(_seed * 7919 + step));
            var keep = Enumerable.Range(0, (int)x.Size(1)).Select(_ => random.NextDouble() < 0.5 ? 1f : 0f).ToArray();
            var mask = TensorT.From(keep);
            var hidden = Dropout(_model.Encoder.Forward(x.Mul(mask)), 0.1, _model.Training);
            var loss = MseLoss(_model.Decoder.Forward(hidden), x);
            return new PretrainOutput(step == PoisonAtStep ? loss.Mul(double.NaN) : loss);
        }

        public void Dispose() => _model.Dispose();
    }

    private sealed class ToyModel : Module
    {
        public ToyModel()
        {
            Encoder = Child("encoder", new Linear(24, 8));
            Decoder = Child("decoder", new Linear(8, 24));
        }

        public Linear Encoder { get; }
        public Linear Decoder { get; }
    }

    private static ClipLoader Loader(int seed, int[]? shape = null)
    {
        var samples = Enumerable.Range(0, 24).Select(i => new VideoSample($"clip{i}.mp4", i % 3, $"clip{i}")).ToList();
        var dataset = new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1, ["c"] = 2 });
        // Each clip is a fixed pattern per class plus noise from the item's own RNG, as a real pipeline's augmentation.
        ClipBatchItem Pipeline(VideoSample sample, int epoch, int index, Random random)
        {
            var itemShape = shape ?? [3, 2, 2, 2];
            var data = new float[itemShape.Aggregate(1, (a, b) => a * b)];
            for (var k = 0; k < data.Length; k++)
            {
                data[k] = (float)(Math.Sin(k * (sample.Label + 1)) + 0.1 * random.NextDouble());
            }
            return ClipBatchItem.Create(data, itemShape, sample.Label);
        }
        return new ClipLoader(dataset, Pipeline, new ClipLoaderOptions { BatchSize = 4, Workers = 2, Seed = seed });
    }

    private static PretrainConfig Config(int epochs, int accum = 1) => ConfigLoader.Load<PretrainConfig>(null,
    [
        $"train.epochs={epochs}", "train.batch_size=4", $"train.accum_steps={accum}", "train.base_lr=0.5", "train.min_lr=0.01",
        "train.warmup_epochs=1", "train.clip_grad=1.0", "log.every_steps=1", "log.checkpoint_every_steps=3", "log.reconstruction_every_steps=1000",
    ]);

    private static List<double> Losses(string runDir) =>
        File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl"))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("train/loss").GetDouble()).ToList();

    private static string Train(PretrainConfig config, string? runDir, bool resume, long stopAt = long.MaxValue, double poison = double.NaN, bool videoMae = false,
        string? resumeFrom = null, long breakWeightsAfter = -1, long stopDuring = -1, string? vjepa = null)
    {
        ManualSeed((ulong)config.Seed);
        var stop = new StopSignal();
        using IPretrainTask task = vjepa is not null ? TinyVJepa(vjepa == "vjepa2", config.Seed)
            : videoMae ? new VideoMAETask(TinyVideoMae, config.Seed) : new ToyTask(config.Seed, poison, breakWeightsAfter, (stop, stopDuring));
        videoMae |= vjepa is not null;
        var effective = config;
        var manifest = ManifestInfo.Create(config.Seed, "test", [], "cpu");
        using var run = RunDirectory.Open(runDir ?? Path.Combine(Directory.CreateTempSubdirectory("vssl-run-").FullName, "run"), "toy", effective, [], manifest, resume,
            resumeFrom, _ => { });
        var loader = videoMae ? Loader(0, [3, 4, 32, 32]) : Loader(0);
        var trainer = new Pretrainer(effective, task, loader, run, VideoSSL.Torch.Device.CPU, new PretrainHooks { Stop = stop }, TextWriter.Null);
        var result = trainer.Run(run.ResumeCheckpoint, stopAt);
        Assert.Equal(stop.Requested, result.Interrupted);
        return run.Path;
    }

    [Fact]
    public void Stopped_and_resumed_run_gives_bit_identical_losses()
    {
        var config = Config(epochs: 3, accum: 2);
        var full = Losses(Train(config, null, false));
        // Stop after 6 of 9 steps (a checkpoint step), then continue from last.safetensors with the full schedule.
        var partialDir = Train(config, null, false, stopAt: 6);
        Train(config, partialDir, resume: true);
        var resumed = Losses(partialDir);
        Assert.Equal(full.Count, resumed.Count);
        Assert.Equal(full, resumed);
    }

    private static VideoSSL.Methods.VideoMAEConfig TinyVideoMae => VideoSSL.Methods.VideoMAEConfig.ForSize("vit_micro", v2: false,
        e => e with { ImgSize = 32, NumFrames = 4 }) with { MaskRatio = 0.5 };

    [Fact]
    public void VideoMAE_run_stopped_and_resumed_gives_bit_identical_losses()
    {
        var config = Config(epochs: 2);
        var full = Losses(Train(config, null, false, videoMae: true));
        var partialDir = Train(config, null, false, stopAt: 6, videoMae: true);
        Train(config, partialDir, resume: true, videoMae: true);
        Assert.Equal(full, Losses(partialDir));
    }

    /// <summary>A 32 × 32 × 4 V-JEPA on a 2 × 2 × 2 grid: small masks (one 1 × 1 block, two 1 × 2 blocks) so some context remains.</summary>
    [Fact]
    public void VJepa_ranks_draw_their_own_masks_and_rank_0_draws_the_single_process_ones()
    {
        using var single = TinyVJepa(false, 3);
        using var rank0 = TinyVJepa(false, 3);
        using var rank1 = TinyVJepa(false, 3);
        rank1.Rank = 1;
        static string Draw(VJepaTask task) => string.Join("|", task.DrawMasks(4, 5, 0)
            .Select(m => string.Join(";", m.Context.Concat(m.Targets).Select(row => string.Join(",", row)))));
        Assert.Equal(Draw(single), Draw(rank0));
        Assert.NotEqual(Draw(single), Draw(rank1));
    }

    private static VJepaTask TinyVJepa(bool v2, long seed)
    {
        var encoder = MethodRegistry.Get(v2 ? "vjepa2" : "vjepa").EncoderDefaults(VideoSSL.Models.VideoViTVariants.Micro) with { ImgSize = 32, NumFrames = 4 };
        var settings = (v2 ? MethodRegistry.V2Defaults : new VJepaSettings()) with
        {
            PredEmbedDim = 32,
            PredDepth = 1,
            PredNumHeads = 2,
            Masks = [new() { SpatialScale = [0.25, 0.25], NumBlocks = 1 }, new() { SpatialScale = [0.5, 0.5], NumBlocks = 1, AspectRatio = [0.5, 0.5] }],
            ClipGrad = 1.0,
        };
        return new VJepaTask(encoder, settings, v2, seed);
    }

    [Theory]
    [InlineData("vjepa", false)]
    [InlineData("vjepa2", false)]
    [InlineData("vjepa", true)]
    public void VJepa_run_stopped_and_resumed_gives_bit_identical_losses_and_metrics(string method, bool cpuBf16)
    {
        // Weight-decay and EMA schedules are part of the state a resume must reproduce; clipping starts after warmup.
        // Under CPU bf16 autocast too (the V-JEPA quick start's setting): its weight casts are redone every step.
        var config = Config(epochs: 3) with { Method = method };
        config = config with { Train = config.Train with { WeightDecay = 0.04, WeightDecayEnd = 0.4, ScheduleScale = 1.25, StartLr = 0.1, ClipGrad = 0, CpuBf16 = cpuBf16 } };
        var fullDir = Train(config, null, false, vjepa: method);
        var partialDir = Train(config, null, false, stopAt: 6, vjepa: method);
        Train(config, partialDir, resume: true, vjepa: method);
        Assert.Equal(File.ReadAllLines(Path.Combine(fullDir, "metrics.jsonl")).Select(StripTimes), File.ReadAllLines(Path.Combine(partialDir, "metrics.jsonl")).Select(StripTimes));
        var first = System.Text.Json.JsonDocument.Parse(File.ReadLines(Path.Combine(fullDir, "metrics.jsonl")).First()).RootElement;
        foreach (var key in (string[])["collapse/target_std", "collapse/pooled_cosine", "sched/ema_momentum", "sched/wd", "mask/context_tokens_0"])
        {
            Assert.True(first.TryGetProperty(key, out _), $"metrics.jsonl has no {key}");
        }
    }

    /// <summary>A metrics line without the wall-clock fields (time, throughput, memory), which differ between runs.</summary>
    private static string StripTimes(string line)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(line)!.AsObject();
        foreach (var key in (string[])["time", "perf/clips_per_s", "mem/peak_mib"])
        {
            node.Remove(key);
        }
        return node.ToJsonString();
    }

    /// <summary>
    /// V-JEPA's lr and weight decay against tools/reference/jepa_schedules.py (jepa's schedulers, stepped before each
    /// iteration as app/vjepa/train.py does): fractional warmup truncated, ipe-based steps, schedule_scale 1.25.
    /// The line logged at step k holds the values iteration k − 1 ran with.
    /// </summary>
    [Fact]
    public void VJepa_schedules_give_each_iteration_the_lr_and_weight_decay_of_jepas_schedulers()
    {
        using (var vjepa = TinyVJepa(false, 0))
        using (var videoMae = new VideoMAETask(TinyVideoMae, 0))
        {
            Assert.True(vjepa.JepaSchedules);
            Assert.False(((IPretrainTask)videoMae).JepaSchedules);
            // V-JEPA's masks change its token counts every step (train.cudnn_attention=auto turns cuDNN attention off).
            Assert.True(((IPretrainTask)vjepa).ShapesVaryPerStep);
            Assert.False(((IPretrainTask)videoMae).ShapesVaryPerStep);
        }
        var config = ConfigLoader.Load<PretrainConfig>(null,
        [
            "train.epochs=2", "train.iterations_per_epoch=6", "train.schedule_scale=1.25", "train.warmup_epochs=0.6", "train.batch_size=4",
            "train.scale_lr=false", "train.start_lr=0.1", "train.base_lr=0.5", "train.min_lr=0.01", "train.weight_decay=0.04", "train.weight_decay_end=0.4",
            "log.every_steps=1", "log.checkpoint_every_steps=1000", "log.reconstruction_every_steps=1000",
        ]);
        var script = File.ReadAllText(Path.Combine(RepoPaths.Root, "tools", "reference", "jepa_schedules.py"));
        using var official = System.Text.Json.JsonDocument.Parse(VideoSSL.Tests.Serialization.SystemPython.Run(script, "12", "6", "2", "1.25", "0.6", "0.1", "0.5", "0.01", "0.04", "0.4"));
        var lr = official.RootElement.GetProperty("lr").EnumerateArray().Select(e => e.GetDouble()).ToList();
        var wd = official.RootElement.GetProperty("wd").EnumerateArray().Select(e => e.GetDouble()).ToList();

        ManualSeed(0);
        using var task = new ToyTask(0) { JepaSchedules = true };
        using var run = RunDirectory.Open(Path.Combine(Directory.CreateTempSubdirectory("vssl-run-").FullName, "run"), "toy", config, [],
            ManifestInfo.Create(0, "test", [], "cpu"), false, null, _ => { });
        new Pretrainer(config, task, Loader(0), run, VideoSSL.Torch.Device.CPU, output: TextWriter.Null).Run();
        var lines = File.ReadAllLines(Path.Combine(run.Path, "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(12, lines.Count);
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(i + 1, lines[i].GetProperty("step").GetInt64());
            Assert.Equal(lr[i], lines[i].GetProperty("opt/lr").GetDouble(), 1e-12);
            Assert.Equal(wd[i], lines[i].GetProperty("sched/wd").GetDouble(), 1e-12);
        }
    }

    [Fact]
    public void Loss_falls_on_the_toy_task()
    {
        var config = Config(epochs: 6);
        var losses = Losses(Train(config with { Train = config.Train with { BaseLr = 8 } }, null, false));
        Assert.True(losses[^1] < 0.5 * losses[0], $"loss went from {losses[0]} to {losses[^1]}");
    }

    [Fact]
    public void Non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint()
    {
        var config = Config(epochs: 3);
        var dir = Path.Combine(Directory.CreateTempSubdirectory("vssl-run-").FullName, "run");
        var e = Assert.Throws<TrainingDivergedException>(() => Train(config, dir, false, poison: 4));
        Assert.Contains("step 4", e.Message, StringComparison.Ordinal);
        var last = Path.Combine(dir, "checkpoints", "last.safetensors");
        Assert.Contains(last, e.Message, StringComparison.Ordinal);
        using var model = new ToyModel();
        var state = Checkpoint.Load(last, model, null);
        Assert.Equal(3, state.Step);
    }

    [Fact]
    public void Weights_broken_by_a_step_are_never_written_and_the_named_checkpoint_resumes()
    {
        var config = Config(epochs: 3) with { Log = Config(3).Log with { CheckpointEverySteps = 1 } };
        var full = Losses(Train(config, null, false));
        var dir = Path.Combine(Directory.CreateTempSubdirectory("vssl-run-").FullName, "run");
        // Step 5's update breaks the weights while its own loss is finite: the checkpoint after it must not be written.
        var e = Assert.Throws<TrainingDivergedException>(() => Train(config, dir, false, breakWeightsAfter: 4));
        var last = Path.Combine(dir, "checkpoints", "last.safetensors");
        Assert.Contains($"{last} (step 4)", e.Message, StringComparison.Ordinal);
        using (var model = new ToyModel())
        {
            Assert.Equal(4, Checkpoint.Load(last, model, null).Step);
            Assert.True(Checkpoint.ParametersFinite(model));
        }
        Train(config, dir, resume: true, resumeFrom: last);
        Assert.Equal(full, Losses(dir));
    }

    [Fact]
    public void Resume_after_a_kill_cuts_metrics_back_to_the_checkpoint_and_survives_a_torn_line()
    {
        var config = Config(epochs: 3) with { Log = Config(3).Log with { KeepEverySteps = 3 } };
        var fullDir = Train(config, null, false);
        // Killed at step 8, its last kept checkpoint at step 6, halfway through writing a line.
        var dir = Train(config, null, false, stopAt: 8);
        File.AppendAllText(Path.Combine(dir, "metrics.jsonl"), "{\"step\": 9, \"train/lo");
        Train(config, dir, resume: true, resumeFrom: Path.Combine(dir, "checkpoints", "checkpoint-0000006.safetensors"));
        Assert.Equal(Losses(fullDir), Losses(dir));
        var steps = VideoSSL.Plots.MetricsLog.Read(Path.Combine(dir, "metrics.jsonl")).Select(r => (long)r.Get("step")).ToList();
        Assert.Equal(Enumerable.Range(1, 18).Select(i => (long)i), steps);
    }

    [Fact]
    public void Kept_checkpoints_follow_keep_every_steps_off_the_checkpoint_grid()
    {
        // Checkpoints every 3 steps, kept every 4: steps 4, 8, 12, 16 are kept although only 12 is on the grid.
        var config = Config(epochs: 3) with { Log = Config(3).Log with { KeepEverySteps = 4 } };
        var dir = Train(config, null, false);
        var kept = Directory.GetFiles(Path.Combine(dir, "checkpoints"), "checkpoint-*.safetensors").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["checkpoint-0000004.safetensors", "checkpoint-0000008.safetensors", "checkpoint-0000012.safetensors", "checkpoint-0000016.safetensors"], kept);
        using var model = new ToyModel();
        Assert.Equal(8, Checkpoint.Load(Path.Combine(dir, "checkpoints", "checkpoint-0000008.safetensors"), model, null).Step);
    }

    [Fact]
    public void A_run_killed_before_its_first_checkpoint_starts_over_fresh_or_resumed()
    {
        var config = Config(epochs: 1);
        var full = Losses(Train(config, null, false));
        foreach (var resume in (bool[])[false, true])
        {
            var dir = Path.Combine(Directory.CreateTempSubdirectory("vssl-run-").FullName, "run");
            using (var killed = RunDirectory.Open(dir, "toy", config, [], ManifestInfo.Create(0, "test", [], "cpu"), false, log: _ => { }))
            {
                killed.Metrics.Write(("step", 1), ("train/loss", 9.0));
            }
            Train(config, dir, resume);
            Assert.Equal(full, Losses(dir));
        }
    }

    [Fact]
    public void A_second_open_of_a_run_folder_is_refused_with_the_holders_pid_until_the_first_closes()
    {
        var config = Config(epochs: 1);
        var dir = Path.Combine(Directory.CreateTempSubdirectory("vssl-run-").FullName, "run");
        var manifest = ManifestInfo.Create(0, "test", [], "cpu");
        using (RunDirectory.Open(dir, "toy", config, [], manifest, false, log: _ => { }))
        {
            var e = Assert.Throws<IOException>(() => RunDirectory.Open(dir, "toy", config, [], manifest, true, log: _ => { }));
            Assert.Contains($"run folder {dir} is in use by PID {Environment.ProcessId}", e.Message, StringComparison.Ordinal);
        }
        using (RunDirectory.Open(dir, "toy", config, [], manifest, true, log: _ => { }))
        {
        }
    }

    [Fact]
    public void Stale_temporary_files_are_removed_when_a_run_folder_opens()
    {
        var config = Config(epochs: 1);
        var dir = Train(config, null, false);
        string[] stale = [Path.Combine(dir, "checkpoints", ".last.safetensors.0123abcd.tmp"), Path.Combine(dir, "config.json.tmp-4242")];
        foreach (var f in stale)
        {
            File.WriteAllText(f, "partial");
        }
        Train(config, dir, resume: true);
        Assert.All(stale, f => Assert.False(File.Exists(f), f));
        Assert.True(File.Exists(Path.Combine(dir, "checkpoints", "last.safetensors")));
    }

    [Fact]
    public void A_checkpoint_outside_a_run_folder_names_no_run_folder()
    {
        var dir = Train(Config(epochs: 1), null, false);
        var last = Path.Combine(dir, "checkpoints", "last.safetensors");
        Assert.Equal(Path.GetFullPath(dir), RunDirectory.FolderOf(last));
        var loose = Path.Combine(Directory.CreateTempSubdirectory("vssl-loose-").FullName, "weights", "last.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(loose)!);
        File.Copy(last, loose);
        Assert.Null(RunDirectory.FolderOf(loose));
    }

    [Fact]
    public void A_stop_request_checkpoints_at_the_next_step_boundary_and_resumes_exactly()
    {
        var config = Config(epochs: 3, accum: 2);
        var full = Losses(Train(config, null, false));
        // Requested during step 5 (0-based 4) of 9, between checkpoints (every 3): the run ends after that step with one.
        var dir = Train(config, null, false, stopDuring: 4);
        using (var model = new ToyModel())
        {
            Assert.Equal(5, Checkpoint.Load(Path.Combine(dir, "checkpoints", "last.safetensors"), model, null).Step);
        }
        Assert.Equal(5, Losses(dir).Count);
        Train(config, dir, resume: true);
        Assert.Equal(full, Losses(dir));
    }

    [Fact]
    public void A_second_run_into_the_same_folder_is_refused_without_resume()
    {
        var config = Config(epochs: 1);
        var dir = Train(config, null, false);
        var e = Assert.Throws<IOException>(() => Train(config, dir, false));
        Assert.Contains("--resume", e.Message, StringComparison.Ordinal);
    }
}

public class CheckpointTests
{
    private sealed class Net : Module
    {
        public Net()
        {
            Fc = Child("fc", new Linear(4, 3));
        }

        public Linear Fc { get; }
    }

    [Fact]
    public void Interrupted_checkpoint_write_leaves_the_previous_checkpoint_loadable()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("vssl-ckpt-").FullName, "last.safetensors");
        using var model = new Net();
        Checkpoint.Save(path, model, null, new TrainerState(5, 0, 5, 5, 0.5, "{}"));
        var before = File.ReadAllBytes(path);
        // A tensor that fails while being written (disposed) stands in for a crash or a full disk mid-write.
        using var broken = new Net();
        broken.Fc.Bias!.Value.Dispose();
        Assert.ThrowsAny<Exception>(() => Checkpoint.Save(path, broken, null, new TrainerState(10, 0, 10, 10, 0.4, "{}")));
        Assert.Equal(before, File.ReadAllBytes(path));
        using var restored = new Net();
        var state = Checkpoint.Load(path, restored, null);
        Assert.Equal(5, state.Step);
        Assert.Equal(model.Fc.Weight.Value.ToArray<float>(), restored.Fc.Weight.Value.ToArray<float>());
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }
}
