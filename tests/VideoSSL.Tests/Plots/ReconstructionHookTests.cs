using System.Text.Json;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Plots;

[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public sealed class ReconstructionHookTests
{
    [Fact]
    public void Pretraining_shows_the_same_clips_at_every_step_and_logs_grad_norm_without_clipping()
    {
        var config = ConfigLoader.Load<PretrainConfig>(null,
        [
            "train.epochs=2", "train.batch_size=4", "train.base_lr=0.5", "train.min_lr=0.01", "train.warmup_epochs=1", "train.clip_grad=0",
            "log.every_steps=1", "log.checkpoint_every_steps=100", "log.reconstruction_every_steps=3",
        ]);
        var samples = Enumerable.Range(0, 16).Select(i => new VideoSample($"clip{i}.mp4", i % 2, $"clip{i}")).ToList();
        var dataset = new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1 });
        ClipBatchItem Pipeline(VideoSample sample, int epoch, int index, Random random) =>
            ClipBatchItem.Create([.. Enumerable.Range(0, 3 * 4 * 32 * 32).Select(k => (float)(Math.Sin(k * 0.01 * (index + 1)) + (0.1 * random.NextDouble())))], [3, 4, 32, 32], sample.Label);
        var loader = new ClipLoader(dataset, Pipeline, new ClipLoaderOptions { BatchSize = 4, Workers = 1, Seed = 0 });
        var mae = VideoMAEConfig.ForSize("vit_micro", v2: false, e => e with { ImgSize = 32, NumFrames = 4 }) with { MaskRatio = 0.5 };
        var shown = new List<(long Step, ReconstructionSample Sample)>();
        var root = Directory.CreateTempSubdirectory("vssl-recon-").FullName;
        try
        {
            VideoSSL.Torch.Torch.ManualSeed(0);
            using var task = new VideoMAETask(mae, config.Seed);
            using (var run = RunDirectory.Open(Path.Combine(root, "run"), "t", config, [], ManifestInfo.Create(0, "test", [], "cpu"), resume: false))
            {
                new Pretrainer(config, task, loader, run, VideoSSL.Torch.Device.CPU, new PretrainHooks { OnReconstruction = (s, r) => shown.Add((s, r)) }, TextWriter.Null).Run();
            }

            Assert.Equal([3L, 6, 8], shown.Select(s => s.Step)); // every 3 steps and the last
            Assert.All(shown, s => Assert.Equal(4, s.Sample.Clips));
            Assert.All(shown, s => Assert.Equal(shown[0].Sample.Original, s.Sample.Original)); // the same clips every time
            Assert.All(shown, s => Assert.Equal(shown[0].Sample.MaskedPixels, s.Sample.MaskedPixels)); // and the same mask
            Assert.NotEqual(shown[0].Sample.Prediction, shown[^1].Sample.Prediction); // the model changed in between
            Assert.Equal(4 * 4 * 32 * 32 * 3, shown[0].Sample.Original.Length);
            var norms = File.ReadAllLines(Path.Combine(root, "run", "metrics.jsonl"))
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("opt/grad_norm")).ToList();
            Assert.All(norms, n => Assert.True(n.ValueKind == JsonValueKind.Number && n.GetDouble() > 0, n.ToString()));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
