using VideoSSL.Models;
using VideoSSL.Torch.Serialization;
using VideoSSL.Training.Config;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.EvaluationRuns;

using static VideoSSL.Torch.Torch;

// Alone: the runs draw from libtorch's global RNG (init, drop path), which parallel tests would also draw from.
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class ProberTests
{
    private static (Prober.Result Result, string Dir) Probe(ProbeConfig config, bool liveTrainLoader)
    {
        ManualSeed(11);
        using var encoder = new VideoViTEncoder(EvalSetup.ModelConfig(config.Model));
        using var run = TinyClips.NewRun(config);
        var trainSet = TinyClips.Dataset(30, "train");
        // Cache mode extracts every video once in order; live mode uses a shuffled, drop-last loader with the probe's seed.
        var train = liveTrainLoader
            ? TinyClips.Loader(trainSet, config.Train.BatchSize, (int)config.Seed, train: true, augment: false)
            : TinyClips.Loader(trainSet, 7, 0, train: false, augment: false);
        var val = TinyClips.Loader(TinyClips.Dataset(12, "val"), 5, 0, train: false, augment: false);
        var result = new Prober(config, encoder, train, val, TinyClips.Classes, run, VideoSSL.Torch.Device.CPU, TextWriter.Null).Run()!;
        return (result, run.Path);
    }

    [Fact]
    public void A_probe_trained_from_the_cache_equals_one_trained_on_live_features()
    {
        string[] keys = ["seed=5", "probe.kind=linear", "train.epochs=3", "train.batch_size=8", "train.base_lr=2", "train.warmup_epochs=1", "log.every_steps=1"];
        var cached = Probe(TinyClips.Probe([.. keys, "probe.cache_features=true"]), liveTrainLoader: false);
        var live = Probe(TinyClips.Probe([.. keys, "probe.cache_features=false"]), liveTrainLoader: true);
        Assert.True(File.Exists(Path.Combine(cached.Dir, "features", "train.safetensors")));
        Assert.False(Directory.Exists(Path.Combine(live.Dir, "features")) && File.Exists(Path.Combine(live.Dir, "features", "train.safetensors")));
        static double[] Losses(string dir) =>
            [.. TinyClips.MetricLines(dir).Where(l => !l.TryGetProperty("val/acc1", out _)).Select(l => l.GetProperty("train/loss").GetDouble())];
        var a = Losses(cached.Dir);
        var b = Losses(live.Dir);
        Assert.Equal(9, a.Length); // 30 clips / batch 8 = 3 steps per epoch, 3 epochs
        Assert.Equal(a.Length, b.Length);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i], b[i], 4);
        }
        // Same head init and the same batches in the same order → the same head and the same validation scores.
        var headA = Weights.Load(Path.Combine(cached.Dir, "checkpoints", Prober.LastCheckpointName));
        var headB = Weights.Load(Path.Combine(live.Dir, "checkpoints", Prober.LastCheckpointName));
        var wa = headA["model.head.1.weight"].ToArray<float>();
        var wb = headB["model.head.1.weight"].ToArray<float>();
        Assert.Equal(wa.Length, wb.Length);
        Assert.True(wa.Zip(wb).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);
        var pa = cached.Result.LastEval.Predictions;
        var pb = live.Result.LastEval.Predictions;
        Assert.Equal(pa.Select(p => p.VideoId), pb.Select(p => p.VideoId));
        Assert.True(pa.Zip(pb).All(p => p.First.Probabilities.Zip(p.Second.Probabilities).All(q => Math.Abs(q.First - q.Second) < 1e-4)));
    }

    [Fact]
    public void Ridge_and_attentive_probes_separate_the_lit_channel()
    {
        var ridge = Probe(TinyClips.Probe("probe.kind=ridge"), liveTrainLoader: false);
        Assert.True(ridge.Result.FinalAcc1 >= 0.9, $"ridge val acc1 {ridge.Result.FinalAcc1}");
        var attentive = Probe(TinyClips.Probe("probe.kind=attentive", "probe.attentive_variant=vjepa2", "probe.attentive_depth=2",
            "train.epochs=20", "train.batch_size=6", "train.base_lr=0.003", "train.scale_lr=false", "train.warmup_epochs=1", "train.weight_decay=0.01"), liveTrainLoader: false);
        Assert.True(attentive.Result.FinalAcc1 >= 0.9, $"attentive val acc1 {attentive.Result.FinalAcc1}");
        Assert.Equal(TinyClips.MetricLines(attentive.Dir).Last(l => l.TryGetProperty("val/acc1", out _)).GetProperty("val/acc1").GetDouble(), attentive.Result.FinalAcc1);
        Assert.False(File.Exists(Path.Combine(attentive.Dir, "checkpoints", "best-head.safetensors")), "a head chosen on the validation split");
        Assert.Contains(TinyClips.MetricLines(attentive.Dir), l => l.TryGetProperty("val/acc5", out _));
    }

    [Fact]
    public void Knn_probe_reports_every_k_and_takes_the_first_as_its_result()
    {
        var knn = Probe(TinyClips.Probe("probe.kind=knn", "probe.knn_k=[3,200]"), liveTrainLoader: false);
        Assert.True(knn.Result.FinalAcc1 >= 0.9, $"knn val acc1 {knn.Result.FinalAcc1}");
        var lines = TinyClips.MetricLines(knn.Dir).Where(l => l.TryGetProperty("knn/k", out _)).ToList();
        Assert.Equal([3, 200], lines.Select(l => l.GetProperty("knn/k").GetInt32()));
        Assert.Equal(lines[0].GetProperty("val/acc1").GetDouble(), knn.Result.FinalAcc1);
    }

    [Fact]
    public void An_unreadable_video_is_skipped_and_counted_not_featured_twice()
    {
        // The loader fills an unreadable video's slot with another video of the split; before, that video's features
        // went into the probe's training rows twice.
        var config = TinyClips.Probe("probe.kind=linear");
        ManualSeed(11);
        using var encoder = new VideoViTEncoder(EvalSetup.ModelConfig(config.Model));
        using var run = TinyClips.NewRun(config);
        var set = TinyClips.Dataset(12, "train");
        var loader = new VideoSSL.Data.Loading.ClipLoader(set, (sample, _, index, rng) => index == 4
                ? throw new InvalidDataException($"moov atom not found in {sample.Path}")
                : VideoSSL.Data.Loading.ClipBatchItem.Create([.. Enumerable.Range(0, 2).SelectMany(_ => TinyClips.Clip(sample, index, rng, augment: false))], [2, 3, 2, 16, 16], sample.Label),
            new VideoSSL.Data.Loading.ClipLoaderOptions { BatchSize = 5, Workers = 2, Shuffle = false, DropLast = false, MaxFailureFraction = 0.5 });
        var output = new StringWriter();
        using var features = new Prober(config, encoder, loader, loader, TinyClips.Classes, run, VideoSSL.Torch.Device.CPU, output).Extract(loader, "train");

        Assert.Equal(11 * 2, features.Count);  // 11 readable videos, 2 views each
        Assert.Equal(features.Count, (int)features.Features.Size(0));
        Assert.DoesNotContain("train4", features.VideoIds);
        Assert.Equal(11, features.VideoIds.Distinct().Count());
        Assert.Contains("features (train): 1 unreadable videos skipped (first: train4.mp4", output.ToString());
    }

    // probe.attentive_block = K reads block K's raw output (before the later blocks and the final norm); 0 reads the
    // normalised output; a block the encoder lacks is refused in one line.
    [Fact]
    public void An_attentive_probe_reads_the_block_it_names()
    {
        var config = TinyClips.Probe("probe.kind=attentive");
        ManualSeed(11);
        using var encoder = new VideoViTEncoder(EvalSetup.ModelConfig(config.Model));
        encoder.Eval();
        var depth = encoder.Config.Depth;
        Assert.True(depth >= 2);
        using var clips = Rand([2, 3, encoder.Config.NumFrames, encoder.Config.ImgSize, encoder.Config.ImgSize]);
        float[] Encode(int block) => new Prober(config with { Probe = config.Probe with { AttentiveBlock = block } }, encoder, null, null, TinyClips.Classes, null,
            VideoSSL.Torch.Device.CPU, TextWriter.Null).Encode(clips).ToArray<float>();
        var (output, blocks) = encoder.ForwardIntermediates(clips, depth);
        static void Near(float[] expected, float[] actual)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (var k = 0; k < expected.Length; k++)
            {
                Assert.True(Math.Abs(expected[k] - actual[k]) <= 1e-5f * Math.Max(1f, Math.Abs(expected[k])), $"{k}: {expected[k]} vs {actual[k]}");
            }
        }
        Near(output.ToArray<float>(), Encode(0));
        Near(blocks[0].ToArray<float>(), Encode(1));
        Near(blocks[depth - 1].ToArray<float>(), Encode(depth));
        Assert.NotEqual(blocks[0].ToArray<float>()[0], output.ToArray<float>()[0]);
        EvalSetup.ValidateProbe("probe.json", config with { Probe = config.Probe with { AttentiveBlock = depth } });
        var e = Assert.Throws<ConfigException>(() => EvalSetup.ValidateProbe("probe.json", config with { Probe = config.Probe with { AttentiveBlock = depth + 1 } }));
        Assert.Equal($"probe.json: probe.attentive_block {depth + 1} must lie in [0, {depth}]", e.Message);
        output.Dispose();
        foreach (var b in blocks)
        {
            b.Dispose();
        }
    }
}
