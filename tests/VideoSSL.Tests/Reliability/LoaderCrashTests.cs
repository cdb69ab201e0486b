using System.Diagnostics;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Tests.Video;

namespace VideoSSL.Tests.Reliability;

/// <summary>
/// The loader over valid and broken videos on several workers: the case that crashed the test host. The cause was
/// not the broken files nor the threads but the RGB conversion writing 24 bytes past each clip buffer for videos of
/// a width of 8 mod 16, as these 40-px synthetic ones (see RgbConversionTests); the broken files stay in the mix.
/// </summary>
public sealed class LoaderCrashTests(TestVideos videos) : IClassFixture<TestVideos>
{
    private static readonly SyntheticClipOptions Small = new(40, 32, 16, 8);

    // Pretraining keeps videos with a short side under 38 px at their native size: the conversion's unscaled path.
    private static readonly VideoPipelineOptions Options = new() { Protocol = PipelineProtocol.Pretrain, Frames = 4, Stride = 2, InputSize = 24 };

    [Fact]
    public void Loader_epochs_over_valid_and_broken_videos_on_several_workers_keep_the_heap_intact()
    {
        (int epochs, _) = RunEpochs(TimeSpan.FromSeconds(2), workers: 2, "h264,vp9,twebm,tmp4,random");
        Assert.True(epochs > 20, $"only {epochs} epochs");
    }

    /// <summary>
    /// The same for VIDEOSSL_STRESS_SECONDS (returns at once without it), with VIDEOSSL_STRESS_WORKERS workers (3) and the
    /// test videos named in VIDEOSSL_STRESS_FILES (h264,vp9,twebm,tmp4,random; "none" for the synthetic ones only):
    /// <c>VIDEOSSL_STRESS_SECONDS=60 dotnet test tests/VideoSSL.Tests --no-build --filter FullyQualifiedName~LoaderCrashTests.Stress</c>.
    /// </summary>
    [Fact]
    public void Stress()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("VIDEOSSL_STRESS_SECONDS"), out int seconds) || seconds <= 0)
        {
            return;
        }
        int workers = int.TryParse(Environment.GetEnvironmentVariable("VIDEOSSL_STRESS_WORKERS"), out int w) ? w : 3;
        string files = Environment.GetEnvironmentVariable("VIDEOSSL_STRESS_FILES") ?? "h264,vp9,twebm,tmp4,random";
        (int epochs, TimeSpan took) = RunEpochs(TimeSpan.FromSeconds(seconds), workers, files);
        Console.WriteLine($"stress: {epochs} epochs with {workers} workers in {took.TotalSeconds:F0} s");
    }

    private (int Epochs, TimeSpan Took) RunEpochs(TimeSpan duration, int workers, string files)
    {
        var dir = Directory.CreateTempSubdirectory("vssl-stress-").FullName;
        try
        {
            var samples = new List<VideoSample>();
            for (int k = 0; k < 4; k++)
            {
                string path = Path.Combine(dir, $"v{k}.mp4");
                FfmpegEncoder.Encode(SyntheticVideo.RenderFrames(k % 2, k, Small), Small.Fps, path, VideoCodec.H264Mp4);
                samples.Add(new VideoSample(path, k % 2, $"v{k}"));
            }
            foreach ((string key, string path) in (List<(string, string)>)[("h264", videos.H264), ("vp9", videos.Vp9),
                ("twebm", videos.TruncatedWebm), ("tmp4", videos.TruncatedMp4), ("random", videos.RandomBytes)])
            {
                if (files.Split(',').Contains(key))
                {
                    samples.Add(new VideoSample(path, samples.Count % 2, key));
                }
            }
            var dataset = new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1 });
            ClipItemWriter writer = VideoPipelines.CreateWriter(Options);
            var clock = Stopwatch.StartNew();
            int epoch = 0;
            for (; clock.Elapsed < duration; epoch++)
            {
                var loader = new ClipLoader(dataset, writer,
                    new ClipLoaderOptions { BatchSize = 2, Workers = workers, Seed = epoch, MaxFailureFraction = 0.5, MaxAttemptsPerItem = 64 });
                List<ClipBatch> batches = [.. loader.Epoch(epoch)];
                Assert.Equal(loader.BatchesPerEpoch, batches.Count);
                Assert.All(batches, b => Assert.True(Array.TrueForAll(b.Data, float.IsFinite)));
                Assert.All(loader.Failures, f => Assert.Contains(f.Sample, (string[])[videos.TruncatedMp4, videos.RandomBytes]));
            }
            return (epoch, clock.Elapsed);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
