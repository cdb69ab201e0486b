using System.Text.Json;
using VideoSSL.Data;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Transforms;
using VideoSSL.Data.Video;
using VideoSSL.Tests.Serialization;
using VideoSSL.Tests.Video;

namespace VideoSSL.Tests.DataPipeline;

/// <summary>SVT's multi-view items: real videos through the decoder, the loader, and the official code's arithmetic.</summary>
public sealed class MultiViewPipelineTests(TestVideos videos) : IClassFixture<TestVideos>
{
    private static readonly MultiViewSpec Spec = MultiViewSpec.Svt([4, 2], 24, (0.4, 1.0), [2, 2, 4, 1], 12, (0.05, 0.4));

    // 4 x 4 frames at 30 fps: a window of 16 frames at 30 fps, 13 of the test videos' 25 fps.
    private static readonly VideoPipelineOptions Options = new() { Frames = 4, Stride = 4 };

    private static readonly SyntheticClipOptions Small = new(40, 32, 16, 8);

    private static List<VideoSample> Synthetic(string dir, int count) => [.. Enumerable.Range(0, count).Select(k =>
    {
        var path = Path.Combine(dir, $"v{k}.mp4");
        FfmpegEncoder.Encode(SyntheticVideo.RenderFrames(k % 2, k, Small), Small.Fps, path, VideoCodec.H264Mp4);
        return new VideoSample(path, k % 2, $"v{k}");
    })];

    private static VideoDataset Dataset(List<VideoSample> samples) => new(samples, new Dictionary<string, int> { ["a"] = 0, ["b"] = 1 });

    [Fact]
    public void Item_holds_every_view_back_to_back_normalised_and_is_a_function_of_its_rng()
    {
        var writer = MultiViewPipelines.CreateWriter(Options, Spec);
        Assert.Equal([(int)Spec.ItemFloats], writer.ItemShape);
        Assert.Equal(2 * 3 * 24 * 24 * 3 + 3 * 12 * 12 * 9, writer.ItemSize);
        Assert.Equal(["global0", "global1", "local0", "local1", "local2", "local3"], Spec.Views.Select(v => v.Name));
        var sample = new VideoSample(videos.H264, 3);
        var a = new float[writer.ItemSize];
        var b = new float[writer.ItemSize];
        Assert.Equal(3, writer.Write(sample, 0, 0, new Random(5), a));
        // Another video in between: the worker's reused decode buffer must not leak into the next item.
        writer.Write(new VideoSample(videos.Vp9, 0), 0, 1, new Random(6), b);
        writer.Write(sample, 0, 0, new Random(5), b);
        Assert.Equal(a, b);
        writer.Write(sample, 0, 0, new Random(7), b);
        Assert.NotEqual(a, b);
        // Every view is filled with normalised values (0..1 of ImageNet's statistics, times up to 1.4 of brightness and contrast jitter).
        long offset = 0;
        foreach (var view in Spec.Views)
        {
            var values = a.AsSpan((int)offset, (int)view.Floats).ToArray();
            Assert.All(values, v => Assert.InRange(v, -5f, 8f));
            Assert.True(values.Max() - values.Min() > 1, $"{view.Name} is flat");
            offset += view.Floats;
        }
    }

    /// <summary>
    /// data.flip: false (labels that tell left from right, as the nuisance set's) turns SVT's per-view flips off and
    /// changes nothing else of the draw; unset keeps the official flips (p 0.5 per view).
    /// </summary>
    [Fact]
    public void Data_flip_false_turns_the_view_flips_off_and_keeps_every_other_draw()
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var with = MultiViewPipelines.Draw(64, 32, 48, 40, Spec, new Random(seed));
            var without = MultiViewPipelines.Draw(64, 32, 48, 40, Spec, new Random(seed), flips: false);
            Assert.All(without, d => Assert.False(d.Flip));
            for (var v = 0; v < with.Length; v++)
            {
                Assert.Equal(with[v].Frames, without[v].Frames);
                Assert.Equal(with[v].Box, without[v].Box);
                Assert.Equal(with[v].Grayscale, without[v].Grayscale);
            }
        }
        var flipped = Enumerable.Range(0, 20).SelectMany(s => MultiViewPipelines.Draw(64, 32, 48, 40, Spec, new Random(s))).Count(d => d.Flip);
        Assert.InRange(flipped, 1, (20 * Spec.Views.Count) - 1);
    }

    [Fact]
    public void Procedural_samples_are_rendered_and_their_views_cut_from_the_rendered_frames()
    {
        // SVT on the nuisance-rich pool (experiments/quickstart/svt_nuisance.json): no file to open, the window is
        // Frames x Stride of the rendered clip's frames.
        var pool = new ProceduralOptions { Clips = 4, Size = 32, Frames = 16 };
        var options = new VideoPipelineOptions { Frames = 4, Stride = 4, Render = s => ProceduralDataset.Render(s, pool) };
        var sample = ProceduralDataset.Create(pool)[1];
        var item = new float[Spec.ItemFloats];
        Assert.Equal(sample.Label, MultiViewPipelines.RunInto(sample, new Random(3), options, Spec, item));

        var clip = ProceduralDataset.Render(sample, pool);
        var draws = MultiViewPipelines.Draw(clip.Frames, 16, clip.Width, clip.Height, Spec, new Random(3));
        Assert.All(draws, d => Assert.All(d.Frames, f => Assert.InRange(f, 0, 15)));
        var expected = new float[Spec.ItemFloats];
        long at = 0;
        for (int v = 0; v < draws.Length; v++)
        {
            MultiViewPipelines.WriteView(clip, draws[v].Frames, draws[v], Spec.Views[v].Size, expected.AsSpan((int)at, (int)Spec.Views[v].Floats), options.Mean, options.Std);
            at += Spec.Views[v].Floats;
        }
        Assert.Equal(expected, item);
    }

    [Fact]
    public void Views_are_cut_from_one_window_at_the_official_temporal_positions()
    {
        // Whole-frame crops (area fraction 1 fits no aspect but about the frame's own, so mostly the centre fallback)
        // so the frame index drawn into each test-video frame can be read back from every view.
        var spec = new MultiViewSpec([
            new ViewSpec("global0", 4, 32, 1, 1, true), new ViewSpec("global1", 6, 32, 1, 1, true), new ViewSpec("local0", 4, 32, 1, 1, false)]);
        // Decoded at the native 64x48 (32-px views alone would have the decoder shrink it), so the draws below are the pipeline's.
        var options = new VideoPipelineOptions { Frames = 8, Stride = 4, DecodeShortSide = TestVideos.Height };
        int window = MultiViewPipelines.WindowFrames(options, TestVideos.Fps);
        Assert.Equal(26, window);  // 32 frames at 30 fps = 26.7 frames at 25 fps, truncated as int(clip_size) slices
        // A seed whose views are whole frames, neither flipped, jittered nor gray, so the index blocks survive.
        int seed = Enumerable.Range(0, 100_000).First(s =>
            MultiViewPipelines.Draw(TestVideos.FrameCount, window, TestVideos.Width, TestVideos.Height, spec, new Random(s))
                .All(d => !d.Flip && d.Jitter is null && !d.Grayscale && d.Box == new CropBox(0, 0, TestVideos.Width, TestVideos.Height)));
        var draws = MultiViewPipelines.Draw(TestVideos.FrameCount, window, TestVideos.Width, TestVideos.Height, spec, new Random(seed));
        var item = new float[spec.ItemFloats];
        MultiViewPipelines.RunInto(new VideoSample(videos.H264, 0), new Random(seed), options, spec, item);

        int start = draws[0].Frames[0];
        Assert.InRange(start, 0, TestVideos.FrameCount - window);
        // decoder.py rand_fr: global 1 over [0, L-5], global 2 over [5, L] (clamped to L-1), locals L // 8 frames wide.
        Assert.Equal([start, start + 7, start + 14, start + 21], draws[0].Frames);
        Assert.Equal([start + 5, start + 9, start + 13, start + 17, start + 21, start + 25], draws[1].Frames);
        foreach (var local in draws[2..])
        {
            int first = local.Frames[0];
            Assert.InRange(first - start, 0, window - window / 8 - 1);
            Assert.Equal(first + window / 8, local.Frames[^1]);
        }
        for (int v = 0; v < spec.Views.Count; v++)
        {
            var clip = MultiViewPipelines.Denormalize(item, spec, v, Normalization.ImageNetMean, Normalization.ImageNetStd);
            var read = Enumerable.Range(0, clip.Frames).Select(t => TestVideos.ReadIndex(clip, t)).ToArray();
            Assert.Equal(draws[v].Frames, read);
        }
    }

    [Fact]
    public void Loader_gives_the_same_batches_resumed_from_batch_k_and_different_items_per_index()
    {
        var dir = Directory.CreateTempSubdirectory("vssl-mv-").FullName;
        var dataset = Dataset(Synthetic(dir, 6));
        var writer = MultiViewPipelines.CreateWriter(Options, Spec);
        var options = new ClipLoaderOptions { BatchSize = 2, Workers = 2, Seed = 11 };
        var full = new ClipLoader(dataset, writer, options).Epoch(1).ToList();
        Assert.Equal(3, full.Count);
        Assert.All(full, b => Assert.Equal([2, (int)Spec.ItemFloats], b.Shape));
        var resumed = new ClipLoader(dataset, writer, options).Epoch(1, startBatch: 2).ToList();
        Assert.Single(resumed);
        Assert.Equal(full[2].SampleIndices, resumed[0].SampleIndices);
        Assert.Equal(full[2].Data, resumed[0].Data);
        // Two items of a batch are two videos, each with its own draws.
        int n = (int)Spec.ItemFloats;
        Assert.NotEqual(full[0].Data.AsSpan(0, n).ToArray(), full[0].Data.AsSpan(n, n).ToArray());
        // Another epoch draws again.
        var next = new ClipLoader(dataset, writer, options).Epoch(2).ToList();
        Assert.NotEqual(full[0].Data, next[0].Data);
    }

    [Fact]
    public void Loader_skips_and_counts_a_corrupt_video_among_multi_view_items()
    {
        var dir = Directory.CreateTempSubdirectory("vssl-mv-").FullName;
        var samples = Synthetic(dir, 3);
        samples.Add(new VideoSample(videos.RandomBytes, 1, "broken"));
        var writer = MultiViewPipelines.CreateWriter(Options, Spec);
        var log = new List<string>();
        var loader = new ClipLoader(Dataset(samples), writer, new ClipLoaderOptions { BatchSize = 2, Workers = 2, Seed = 1, MaxFailureFraction = 0.3 }, log.Add);
        var batches = loader.Epoch(0).ToList();
        Assert.Equal(2, batches.Count);
        Assert.All(batches, b => Assert.Equal([2, (int)Spec.ItemFloats], b.Shape));
        Assert.DoesNotContain(batches.SelectMany(b => b.SampleIds), id => id == "broken");
        Assert.DoesNotContain(3, batches.SelectMany(b => b.SampleIndices));
        Assert.Equal(["random.mp4"], loader.Failures.Select(f => Path.GetFileName(f.Sample)).Distinct());
        Assert.Contains(log, line => line.Contains("random.mp4", StringComparison.Ordinal));
    }

    [Fact]
    public void Decode_size_keeps_the_smallest_global_crop_at_full_resolution()
    {
        var spec = MultiViewSpec.Svt([8, 4], 224, (0.4, 1.0), [2, 16], 96, (0.05, 0.4));
        // 224 / sqrt(0.4) = 354.2 -> 355, made even: 356.
        Assert.Equal(FrameResize.None, MultiViewPipelines.DecodeResize(new VideoInfo(455, 256, 300, true, 30, 10, "h264"), new VideoPipelineOptions(), spec));
        Assert.Equal(FrameResize.Exact(632, 356), MultiViewPipelines.DecodeResize(new VideoInfo(1280, 720, 300, true, 30, 10, "h264"), new VideoPipelineOptions(), spec));
        Assert.Equal(FrameResize.Exact(455, 256),
            MultiViewPipelines.DecodeResize(new VideoInfo(1280, 720, 300, true, 30, 10, "h264"), new VideoPipelineOptions { DecodeShortSide = 256 }, spec));
    }

    [Fact]
    public void Data_show_views_draws_one_row_per_view_and_names_a_bad_views_value()
    {
        using var dir = new TempDirectory();
        var dataset = new VideoDataset([new VideoSample(videos.H264, 0), new VideoSample(videos.Vp9, 1)], new Dictionary<string, int> { ["a"] = 0, ["b"] = 1 });
        var spec = MultiViewSpec.Svt([2, 3], 32, (0.4, 1.0), [1, 2], 16, (0.05, 0.4));
        string path = dir.File("views.png");
        VideoSSL.Cli.DataCommand.ShowViews(dataset, 1, Options, spec, seed: 0, epoch: 0, path);
        var (width, height, _, _) = VideoSSL.Tests.Plots.PngDecoder.Decode(File.ReadAllBytes(path));
        Assert.True(width > 3 * 96 && height > 4 * 96, $"{width}x{height}");  // 3 frame columns, 4 view rows of cells >= 96 px

        Assert.Equal(MultiViewSpec.SvtPaper.Views, VideoSSL.Cli.DataCommand.ViewsToShow("svt", Options).Spec.Views);
        Assert.Equal([4, 8, 2, 2, 4, 4, 8, 8, 16, 16], MultiViewSpec.SvtPaper.Views.Select(v => v.Frames));
        var e = Assert.Throws<VideoSSL.Training.Config.ConfigException>(() => VideoSSL.Cli.DataCommand.ViewsToShow(dir.File("none.json"), Options));
        Assert.StartsWith("--views ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Returns scripted uniforms and records every draw, so the official code can be replayed with them.</summary>
    private sealed class RecordingRandom(int seed) : Random(seed)
    {
        public List<(bool IsInt, double Value)> Log { get; } = [];

        public override double NextDouble()
        {
            double u = base.NextDouble();
            Log.Add((false, u));
            return u;
        }

        public override int Next(int maxValue)
        {
            int value = base.Next(maxValue);
            Log.Add((true, value));
            return value;
        }
    }

    [Fact]
    public void Temporal_indices_crops_and_view_pixels_match_a_transcription_of_the_official_code()
    {
        // Temporal: torch.linspace in float32 + clamp + long, for the official window (64 frames, 53 at 25 fps) and odd ones.
        var temporal = new List<(int Length, int Start, int End, int N)>();
        foreach (int length in new[] { 64, 65, 53, 26, 13, 7 })
        {
            foreach (int n in new[] { 1, 2, 4, 8, 16 })
            {
                temporal.Add((length, 0, length - 5, n));
                temporal.Add((length, 5, length, n));
                for (int start = 0; start < length - length / 8; start += 3)
                {
                    temporal.Add((length, start, start + length / 8, n));
                }
            }
        }
        // Crops: the draws our sampler made, replayed; a frame too wide for the aspect range forces the centre fallback.
        var crops = new List<(int Width, int Height, double Min, double Max, int[] Box, List<double[]> Draws)>();
        var rng = new Random(3);
        foreach (var (w, h, min, max) in new[] { (455, 256, 0.4, 1.0), (455, 256, 0.05, 0.4), (40, 32, 0.4, 1.0), (120, 20, 0.9, 1.0), (20, 120, 0.9, 1.0), (64, 48, 1.0, 1.0) })
        {
            for (int k = 0; k < 12; k++)
            {
                var recorder = new RecordingRandom(rng.Next());
                var box = MultiViewPipelines.SampleCrop(w, h, min, max, recorder);
                var draws = new List<double[]>();
                for (int i = 0; i < recorder.Log.Count;)
                {
                    double area = recorder.Log[i++].Value, aspect = recorder.Log[i++].Value;
                    double top = 0, left = 0;
                    if (i < recorder.Log.Count && recorder.Log[i].IsInt)
                    {
                        top = recorder.Log[i++].Value;
                        left = recorder.Log[i++].Value;
                    }
                    draws.Add([area, aspect, top, left]);
                }
                Assert.Equal(10, draws.Count);
                crops.Add((w, h, min, max, [box.Left, box.Top, box.Width, box.Height], draws));
            }
        }
        // Views: random frames, every jitter order, flip, grayscale; up- and downsampling crops.
        var frames = new Clip(3, 20, 26);
        new Random(8).NextBytes(frames.Pixels);
        var views = new List<(ViewDraw Draw, int Size)>
        {
            (new ViewDraw([0, 1, 2], new CropBox(3, 2, 17, 15), false, null, false), 12),
            (new ViewDraw([2, 0], new CropBox(0, 0, 26, 20), true, null, false), 8),
            (new ViewDraw([1], new CropBox(5, 4, 6, 7), true, [new(JitterKind.Brightness, 1.3), new(JitterKind.Contrast, 0.7), new(JitterKind.Saturation, 1.15)], false), 16),
            (new ViewDraw([0, 2], new CropBox(10, 1, 12, 12), false, [new(JitterKind.Saturation, 0.85), new(JitterKind.Brightness, 0.66), new(JitterKind.Contrast, 1.31)], true), 10),
            (new ViewDraw([2, 1, 0], new CropBox(1, 3, 20, 16), false, null, true), 9),
        };

        using var dir = new TempDirectory();
        static int[][][][] FramesOf(Clip clip, int[] slots) => [.. slots.Select(t => Enumerable.Range(0, clip.Height).Select(y =>
            Enumerable.Range(0, clip.Width).Select(x => Enumerable.Range(0, 3).Select(c => (int)clip.Pixels[(((t * clip.Height) + y) * clip.Width + x) * 3 + c]).ToArray()).ToArray()).ToArray())];
        var cases = new
        {
            temporal = temporal.Select(t => new { length = t.Length, start = t.Start, end = t.End, n = t.N }),
            crops = crops.Select(c => new { height = c.Height, width = c.Width, scale = new[] { c.Min, c.Max }, draws = c.Draws }),
            views = views.Select(v => new
            {
                frames = FramesOf(frames, v.Draw.Frames),
                box = new[] { v.Draw.Box.Left, v.Draw.Box.Top, v.Draw.Box.Width, v.Draw.Box.Height },
                size = v.Size,
                flip = v.Draw.Flip,
                jitter = v.Draw.Jitter?.Select(j => new object[] { j.Kind.ToString().ToLowerInvariant(), j.Factor }),
                gray = v.Draw.Grayscale,
            }),
        };
        File.WriteAllText(dir.File("cases.json"), JsonSerializer.Serialize(cases));
        SystemPython.RunWithTorch(File.ReadAllText(Path.Combine(RepoPaths.Root, "tools", "reference", "svt_views_reference.py")), dir.File("cases.json"), dir.File("out.json"));
        using var reference = JsonDocument.Parse(File.ReadAllText(dir.File("out.json")));

        var expectedTemporal = reference.RootElement.GetProperty("temporal").EnumerateArray().ToList();
        for (int i = 0; i < temporal.Count; i++)
        {
            var (length, start, end, n) = temporal[i];
            Assert.True(expectedTemporal[i].EnumerateArray().Select(e => e.GetInt32()).SequenceEqual(MultiViewPipelines.TemporalSampling(length, start, end, n)),
                $"linspace({start}, {end}, {n}) in a window of {length}");
        }
        var expectedCrops = reference.RootElement.GetProperty("crops").EnumerateArray().ToList();
        for (int i = 0; i < crops.Count; i++)
        {
            Assert.Equal(expectedCrops[i].EnumerateArray().Select(e => e.GetInt32()), crops[i].Box);
        }
        Assert.Contains(crops, c => c.Width == 120 && c.Box[2] == (int)Math.Round(20 * 4.0 / 3));  // the fallback ran
        var expectedViews = reference.RootElement.GetProperty("views").EnumerateArray().ToList();
        for (int i = 0; i < views.Count; i++)
        {
            var (draw, size) = views[i];
            var slots = Enumerable.Range(0, draw.Frames.Length).ToArray();
            var view = new float[3 * draw.Frames.Length * size * size];
            var source = new Clip(draw.Frames.Length, frames.Height, frames.Width, [.. draw.Frames.SelectMany(t => frames.Frame(t).ToArray())]);
            MultiViewPipelines.WriteView(source, slots, draw, size, view, Normalization.ImageNetMean, Normalization.ImageNetStd);
            var expected = expectedViews[i].EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(expected.Length, view.Length);
            double worst = expected.Zip(view, (e, a) => Math.Abs(e - a)).Max();
            Assert.True(worst < 1e-5, $"view {i}: max |diff| {worst:G3}");
        }
    }
}
