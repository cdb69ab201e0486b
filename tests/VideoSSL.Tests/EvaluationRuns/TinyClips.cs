using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.EvaluationRuns;

/// <summary>In-memory clips [3, 2, 16, 16] whose class is the channel that is lit, plus noise: learnable in a few steps.</summary>
internal static class TinyClips
{
    public const int Classes = 3;

    public static readonly string[] ModelKeys =
    [
        "model.encoder=vit_micro", "model.img_size=16", "model.frames=2", "model.tubelet=2", "model.patch=8", "model.num_classes=3",
    ];

    public static VideoDataset Dataset(int count, string prefix)
    {
        var samples = Enumerable.Range(0, count).Select(i => new VideoSample($"{prefix}{i}.mp4", i % Classes, $"{prefix}{i}")).ToList();
        return new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1, ["c"] = 2 });
    }

    /// <summary>One clip; the noise comes from the item's RNG when <paramref name="augment"/>, else from its index only.</summary>
    public static float[] Clip(VideoSample sample, int index, Random rng, bool augment)
    {
        var noise = augment ? rng : new Random(index * 7919 + 17);
        var data = new float[3 * 2 * 16 * 16];
        var plane = 2 * 16 * 16;
        for (var k = 0; k < data.Length; k++)
        {
            data[k] = (k / plane == sample.Label ? 1f : 0f) + (float)(0.5 * (noise.NextDouble() - 0.5));
        }
        return data;
    }

    /// <param name="views">1: items [3, 2, 16, 16]; more: [views, 3, 2, 16, 16] (repeated augmentation).</param>
    public static ClipLoader Loader(VideoDataset dataset, int batchSize, int seed, bool train, bool augment, int views = 1) =>
        new(dataset, (sample, _, index, rng) =>
        {
            var data = Enumerable.Range(0, views).SelectMany(_ => Clip(sample, index, rng, augment)).ToArray();
            int[] shape = views == 1 ? [3, 2, 16, 16] : [views, 3, 2, 16, 16];
            return ClipBatchItem.Create(data, shape, sample.Label);
        }, new ClipLoaderOptions { BatchSize = batchSize, Workers = 2, Seed = seed, Shuffle = train, DropLast = train });

    public static RunDirectory NewRun<T>(T config, string? dir = null, bool resume = false) =>
        RunDirectory.Open(dir ?? Path.Combine(Directory.CreateTempSubdirectory("vssl-eval-").FullName, "run"), "test", config, [],
            ManifestInfo.Create(0, "test", [], "cpu"), resume);

    public static List<System.Text.Json.JsonElement> MetricLines(string runDir) =>
        [.. File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)];

    public static FinetuneConfig Finetune(params string[] keys) => ConfigLoader.Load<FinetuneConfig>(null, [.. ModelKeys, .. keys]);

    public static ProbeConfig Probe(params string[] keys) => ConfigLoader.Load<ProbeConfig>(null, [.. ModelKeys, .. keys]);
}
