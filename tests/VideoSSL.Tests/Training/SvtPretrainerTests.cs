using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Video;
using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Training;

using static VideoSSL.Torch.Torch;

/// <summary>SVT through the real loop and the real multi-view pipeline: a stopped and resumed run repeats the uninterrupted one bit for bit.</summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class SvtPretrainerTests
{
    /// <summary>Views of 4 and 2 frames at 32 px and two local views of 2 frames at 16 px; a 64-wide head; teacher temperature warm-up over 2 epochs.</summary>
    private static readonly SvtSettings Settings = new()
    {
        OutDim = 32, HiddenDim = 16, BottleneckDim = 8,
        GlobalFrames = [4, 2], GlobalSize = 32, LocalFrames = [2, 2], LocalSize = 16,
        WarmupTeacherTemp = 0.02, TeacherTemp = 0.05, WarmupTeacherTempEpochs = 2,
    };

    private static readonly Lazy<string> s_videos = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("vssl-svt-videos-").FullName;
        var clip = new SyntheticClipOptions(40, 40, 12, 8);
        for (var k = 0; k < 4; k++)
        {
            FfmpegEncoder.Encode(SyntheticVideo.RenderFrames(k % 2, k, clip), clip.Fps, Path.Combine(dir, $"v{k}.mp4"), VideoCodec.H264Mp4);
        }
        return dir;
    });

    private static string Train(PretrainConfig config, string? runDir, bool resume, long stopAt = long.MaxValue)
    {
        ManualSeed((ulong)config.Seed);
        // Drop path 0.1 in student and teacher: its draws are part of the state a resume must restore.
        var encoder = ModelRegistry.Get("vit_micro_divst") with { ImgSize = 32, NumFrames = 4 };
        using var task = new SvtTask(encoder, Settings);
        var samples = Enumerable.Range(0, 4).Select(k => new VideoSample(Path.Combine(s_videos.Value, $"v{k}.mp4"), k % 2)).ToList();
        var dataset = new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1 });
        var writer = MultiViewPipelines.CreateWriter(new VideoPipelineOptions { Frames = 4, Stride = 2 }, task.Views!);
        var loader = new ClipLoader(dataset, writer, new ClipLoaderOptions { BatchSize = 2, Workers = 1, Seed = 3 });
        var manifest = ManifestInfo.Create(config.Seed, "test", [], "cpu");
        using var run = RunDirectory.Open(runDir ?? Path.Combine(Directory.CreateTempSubdirectory("vssl-svt-run-").FullName, "run"), "svt", config, [], manifest, resume, null, _ => { });
        new Pretrainer(config, task, loader, run, VideoSSL.Torch.Device.CPU, new PretrainHooks(), TextWriter.Null).Run(run.ResumeCheckpoint, stopAt);
        return run.Path;
    }

    private static string StripTimes(string line)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(line)!.AsObject();
        foreach (var key in (string[])["time", "perf/clips_per_s", "mem/peak_mib"])
        {
            node.Remove(key);
        }
        return node.ToJsonString();
    }

    [Fact]
    public void Svt_run_stopped_and_resumed_gives_bit_identical_losses_and_metrics()
    {
        // 2 steps per epoch, 3 epochs: the last layer is frozen in epoch 0, the teacher temperature warms up over 2.
        var config = ConfigLoader.Load<PretrainConfig>(null,
        [
            "method=svt", "train.epochs=3", "train.batch_size=2", "train.scale_lr=false", "train.base_lr=0.001", "train.min_lr=0.0001",
            "train.warmup_epochs=1", "train.weight_decay=0.04", "train.weight_decay_end=0.4", "train.betas=[0.9, 0.999]", "train.clip_grad=0",
            "log.every_steps=1", "log.checkpoint_every_steps=3", "log.reconstruction_every_steps=1000",
        ]);
        var fullDir = Train(config, null, false);
        var partialDir = Train(config, null, false, stopAt: 3);
        Train(config, partialDir, resume: true);
        var full = File.ReadAllLines(Path.Combine(fullDir, "metrics.jsonl"));
        Assert.Equal(6, full.Length);
        Assert.Equal(full.Select(StripTimes), File.ReadAllLines(Path.Combine(partialDir, "metrics.jsonl")).Select(StripTimes));
        var first = System.Text.Json.JsonDocument.Parse(full[0]).RootElement;
        foreach (var key in (string[])["collapse/teacher_entropy", "collapse/kl_teacher_centre", "sched/teacher_momentum", "sched/teacher_temp", "sched/wd"])
        {
            Assert.True(first.TryGetProperty(key, out _), $"metrics.jsonl has no {key}");
        }
        double Temp(string line) => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("sched/teacher_temp").GetDouble();
        Assert.Equal([0.02, 0.02, 0.05, 0.05, 0.05, 0.05], full.Select(Temp));
    }
}
