using VideoSSL.Data;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Transforms;
using VideoSSL.Data.Video;

namespace VideoSSL.Tests.DataPipeline;

/// <summary>The real path: synthetic clips encoded by ffmpeg, decoded by our libav reader, through the loader.</summary>
public class PipelineTests
{
    private static readonly SyntheticClipOptions Small = new(48, 48, 16, 8);

    private static string Encode(string dir, int classId, int seed, VideoCodec codec)
    {
        var path = Path.Combine(dir, $"c{classId}_s{seed}{(codec == VideoCodec.H264Mp4 ? ".mp4" : ".webm")}");
        FfmpegEncoder.Encode(SyntheticVideo.RenderFrames(classId, seed, Small), Small.Fps, path, codec);
        return path;
    }

    [Theory]
    [InlineData(VideoCodec.H264Mp4)]
    [InlineData(VideoCodec.Vp9Webm)]
    public void Decoded_synthetic_frames_match_the_rendered_frames(VideoCodec codec)
    {
        var dir = Directory.CreateTempSubdirectory("vssl-pipe-").FullName;
        var path = Encode(dir, classId: 0, seed: 5, codec);
        var rendered = SyntheticVideo.RenderFrames(0, 5, Small);
        using var reader = VideoReader.Open(path);
        int[] indices = [0, 7, 15];
        var decoded = reader.Read(indices);
        for (var k = 0; k < indices.Length; k++)
        {
            var expected = rendered.Frame(indices[k]);
            var actual = decoded.Frame(k);
            double error = 0;
            for (var i = 0; i < expected.Length; i++)
            {
                error += Math.Abs(expected[i] - actual[i]);
            }
            // Lossy codecs at small sizes: a few grey levels of mean error; a wrong frame or channel order is far above.
            Assert.True(error / expected.Length < 12, $"{codec} frame {indices[k]}: mean abs error {error / expected.Length:F1}");
        }
        // A different frame is clearly farther away, so the comparison above can tell frames apart.
        double wrong = 0;
        var other = rendered.Frame(15);
        var first = decoded.Frame(0);
        for (var i = 0; i < other.Length; i++)
        {
            wrong += Math.Abs(other[i] - first[i]);
        }
        Assert.True(wrong / other.Length > 2, "frames 0 and 15 of the synthetic clip should differ");
    }

    [Fact]
    public void Loader_over_corrupt_members_finishes_names_them_and_stops_past_the_allowed_share()
    {
        var dir = Directory.CreateTempSubdirectory("vssl-pipe-").FullName;
        var samples = new List<VideoSample>();
        for (var k = 0; k < 6; k++)
        {
            samples.Add(new VideoSample(Encode(dir, k % 2, k, VideoCodec.H264Mp4), k % 2));
        }
        var empty = Path.Combine(dir, "empty.mp4");
        File.WriteAllBytes(empty, []);
        var noise = Path.Combine(dir, "noise.mp4");
        File.WriteAllBytes(noise, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251))]);
        samples.Add(new VideoSample(empty, 0));
        samples.Add(new VideoSample(noise, 1));
        var dataset = new VideoDataset(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1 });
        var pipeline = VideoPipelines.Create(new VideoPipelineOptions { Protocol = PipelineProtocol.Pretrain, Frames = 4, Stride = 2, InputSize = 32 });
        var log = new List<string>();
        var loader = new ClipLoader(dataset, pipeline, new ClipLoaderOptions { BatchSize = 4, Workers = 2, Seed = 1, MaxFailureFraction = 0.3 }, log.Add);
        var batches = loader.Epoch(0).ToList();
        Assert.Equal(2, batches.Count);
        Assert.All(batches, b => Assert.Equal(new[] { 4, 3, 4, 32, 32 }, b.Shape));
        var failed = loader.Failures.Select(f => Path.GetFileName(f.Sample)).Distinct().Order().ToList();
        Assert.Equal(["empty.mp4", "noise.mp4"], failed);
        Assert.Contains(log, line => line.Contains("empty", StringComparison.Ordinal));

        var strict = new ClipLoader(dataset, pipeline, new ClipLoaderOptions { BatchSize = 4, Workers = 2, Seed = 1, MaxFailureFraction = 0.1 });
        var e = Assert.Throws<InvalidDataException>(() => strict.Epoch(0).ToList());
        Assert.Contains(".mp4", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(PipelineProtocol.Pretrain, false)]
    [InlineData(PipelineProtocol.FinetuneTrain, false)]
    [InlineData(PipelineProtocol.FinetuneTrain, true)]
    [InlineData(PipelineProtocol.Test, false)]
    public void Writer_pipeline_writes_what_the_item_pipeline_returns(PipelineProtocol protocol, bool randAugment)
    {
        var dir = Directory.CreateTempSubdirectory("vssl-pipe-").FullName;
        var sample = new VideoSample(Encode(dir, 4, 3, VideoCodec.H264Mp4), 4);
        var other = new VideoSample(Encode(dir, 1, 8, VideoCodec.H264Mp4), 1);
        var options = new VideoPipelineOptions { Protocol = protocol, Frames = 4, Stride = 2, InputSize = 32, Flip = protocol != PipelineProtocol.Test, Repeats = protocol == PipelineProtocol.FinetuneTrain ? 2 : 1 };
        if (randAugment)
        {
            // rand-m10-n6: with six ops at p = 0.5 every seed used here changes the clip.
            options = options with { RandAugment = RandAugmentPolicy.Parse("rand-m10-n6-mstd0.5-inc1") };
            var plain = VideoPipelines.Create(options with { RandAugment = null })(sample, 0, 0, new Random(9));
            Assert.NotEqual(plain.Data, VideoPipelines.Create(options)(sample, 0, 0, new Random(9)).Data);
        }
        var item = VideoPipelines.Create(options)(sample, 0, 0, new Random(9));
        var writer = VideoPipelines.CreateWriter(options);
        Assert.Equal(item.Shape, writer.ItemShape);
        var written = new float[writer.ItemSize];
        // A decode of another video first: the worker's reused decode buffer must not leak into the next item.
        writer.Write(other, 0, 1, new Random(1), written);
        int label = writer.Write(sample, 0, 0, new Random(9), written);
        Assert.Equal(4, label);
        Assert.Equal(item.Data, written);
    }
}
