using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Sampling;
using VideoSSL.Data.Transforms;
using VideoSSL.Data.Video;

namespace VideoSSL.Data.Pipelines;

/// <summary>
/// Ready-made loader pipelines (decode → sample → augment → normalise) for the reference recipes.
/// <para>
/// Decode size. The decoder can resize on its way to RGB, which saves the conversion and the crop's work on
/// large frames, but the crop must keep the geometry the recipe defines:
/// <list type="bullet">
/// <item>Pretraining: the multi-scale crop is defined relative to the short side (sizes int(short · scale),
/// offsets on a grid of (W − w) / 4), so sampling it on a frame resized as a whole gives the same relative box up to
/// one-pixel rounding. Videos whose short side is above ceil(input / 0.66) (340 at 224; the smallest crop is then still
/// at least the input size, so no crop is upsampled) are decoded at that short side; smaller videos, e.g. Kinetics
/// preprocessed to 320 or SSv2 at 240, decode at their native size and get exactly the official geometry.</item>
/// <item>Fine-tune training: random resized crops can cover 8% of the frame, so any reduction loses detail;
/// frames decode at native size unless <see cref="VideoPipelineOptions.DecodeShortSide"/> caps them.</item>
/// <item>Test: the protocol resizes the short side to the input size before its three crops; the decoder does that
/// resize, to torchvision's size rule (long side int(size · long / short)), so the crop positions are exact.</item>
/// </list>
/// The decoder's resize is swscale bilinear, the reference's PIL/OpenCV bilinear: values differ slightly, geometry does not.
/// </para>
/// <para>
/// Multi-view items. An item holds every view of one video as [V, 3, T, S, S] (test views, or repeated
/// augmentation), so a video is decoded once. In a batch [B, V, 3, T, S, S] the video is
/// <see cref="ClipBatch.SampleIds"/>[b] and the view is the second axis; test view v is temporal clip
/// v / crops and spatial crop v % crops (<see cref="VideoPipelineOptions.TestView"/>).
/// </para>
/// </summary>
public static class VideoPipelines
{
    /// <summary>The function <see cref="ClipLoader"/> calls for each sample. Thread-safe: every call opens its own reader.</summary>
    public static Func<VideoSample, int, int, Random, ClipBatchItem> Create(VideoPipelineOptions options)
    {
        options.Validate();
        return (sample, _, _, rng) => Run(sample, rng, options);
    }

    /// <summary>
    /// The same pipeline as <see cref="Create"/>, writing each item straight into the loader's batch buffer
    /// (what the training and evaluation loaders use: no per-item array, no copy when the batch is assembled).
    /// </summary>
    public static ClipItemWriter CreateWriter(VideoPipelineOptions options)
    {
        options.Validate();
        return new ClipItemWriter(options.ItemShape, (sample, _, _, rng, destination) => RunInto(sample, rng, options, destination));
    }

    /// <summary>Decodes, samples and augments one video. Every random choice comes from <paramref name="rng"/>, in a fixed order.</summary>
    public static ClipBatchItem Run(VideoSample sample, Random rng, VideoPipelineOptions options)
    {
        int[] shape = options.ItemShape;
        var data = GC.AllocateUninitializedArray<float>(shape.Aggregate(1, (a, d) => checked(a * d)));
        int label = RunInto(sample, rng, options, data);
        return ClipBatchItem.Create(data, shape, label);
    }

    /// <summary><see cref="Run"/> into <paramref name="destination"/> (<see cref="VideoPipelineOptions.ItemShape"/> floats); returns the label.</summary>
    public static int RunInto(VideoSample sample, Random rng, VideoPipelineOptions options, Span<float> destination)
    {
        if (options.Render is { } render)
        {
            Clip full = render(sample);
            if (options.Protocol == PipelineProtocol.Test)
            {
                int[][] clips = TestIndices(full.Frames, options);
                TestViews(SelectFrames(full, [.. clips.SelectMany(c => c)]), clips.Length, sample.Path, options, destination);
            }
            else
            {
                Augmented(SelectFrames(full, TrainIndices(full.Frames, options, rng)), options, rng, destination);
            }
            return sample.Label;
        }
        using VideoReader reader = VideoReader.Open(sample.Path, options.DecoderThreads);
        int n = FrameCount(reader);
        FrameResize resize = DecodeResize(reader.Info, options);
        if (options.Protocol == PipelineProtocol.Test)
        {
            TestViews(reader, n, resize, options, destination);
        }
        else
        {
            Clip decoded = reader.Read(TrainIndices(n, options, rng), resize, t_decoded);
            t_decoded = decoded;
            Augmented(decoded, options, rng, destination);
        }
        return sample.Label;
    }

    // Each loader worker keeps its last decoded clip and decodes the next video into it when the size matches.
    [ThreadStatic]
    private static Clip? t_decoded;

    /// <summary>Frame indices of a training clip: dense for pretraining, K400 dense or SSv2 segments for fine-tuning.</summary>
    public static int[] TrainIndices(int n, VideoPipelineOptions options, Random rng) => options.Protocol switch
    {
        PipelineProtocol.Pretrain => FrameSamplers.VideoMaePretrain(n, options.Frames, options.Stride, rng),
        PipelineProtocol.FinetuneTrain when options.Sampling == SamplingScheme.Ssv2 => FrameSamplers.Ssv2Train(n, options.Frames, rng),
        PipelineProtocol.FinetuneTrain => FrameSamplers.KineticsTrain(n, options.Frames, options.Stride, rng),
        _ => throw new ArgumentException($"{options.Protocol} has no random training clip", nameof(options)),
    };

    /// <summary>Test clips, [clips][frames]: K400 evenly spread dense windows, SSv2 the two segment views.</summary>
    public static int[][] TestIndices(int n, VideoPipelineOptions options) => options.Sampling == SamplingScheme.Ssv2
        ? FrameSamplers.Ssv2Test(n, options.Frames)
        : FrameSamplers.KineticsTest(n, options.Frames, options.Stride, options.TestClips);

    /// <summary>The decoder resize for a video of this size under <paramref name="options"/> (see the class remarks).</summary>
    public static FrameResize DecodeResize(VideoInfo info, VideoPipelineOptions options)
    {
        int shortSide = Math.Min(info.Width, info.Height);
        int target;
        switch (options.Protocol)
        {
            case PipelineProtocol.Test:
                target = options.InputSize;
                break;
            case PipelineProtocol.Pretrain:
                double smallestScale = ClipTransforms.MultiScaleCropScales.Min();
                int need = (int)Math.Ceiling(options.InputSize / smallestScale);
                target = options.DecodeShortSide ?? need + (need & 1);
                if (shortSide <= target)
                {
                    return FrameResize.None;
                }
                break;
            default:
                if (options.DecodeShortSide is not int cap || shortSide <= cap)
                {
                    return FrameResize.None;
                }
                target = cap;
                break;
        }
        (int w, int h) = ShortSideSize(info.Width, info.Height, target);
        return w == info.Width && h == info.Height ? FrameResize.None : FrameResize.Exact(w, h);
    }

    /// <summary>torchvision Resize(int): short side to <paramref name="size"/>, long side int(size · long / short).</summary>
    public static (int Width, int Height) ShortSideSize(int width, int height, int size) => width <= height
        ? (size, (int)((long)size * height / width))
        : ((int)((long)size * width / height), size);

    /// <summary>Inverse of the normalisation for display: view <paramref name="view"/> of an item back to uint8 frames.</summary>
    public static Clip Denormalize(ReadOnlySpan<float> item, int view, VideoPipelineOptions options)
    {
        int t = options.Frames;
        int s = options.InputSize;
        int plane = t * s * s;
        ReadOnlySpan<float> data = item.Slice(view * 3 * plane, 3 * plane);
        var clip = new Clip(t, s, s);
        for (int c = 0; c < 3; c++)
        {
            float mean = options.Mean[c];
            float std = options.Std[c];
            ReadOnlySpan<float> channel = data.Slice(c * plane, plane);
            for (int p = 0; p < plane; p++)
            {
                float value = (channel[p] * std + mean) * 255f;
                clip.Pixels[p * 3 + c] = (byte)Math.Clamp((int)MathF.Round(value), 0, 255);
            }
        }
        return clip;
    }

    private static int FrameCount(VideoReader reader)
    {
        long n = reader.Info.FrameCount;
        if (n < 1)
        {
            throw new InvalidDataException($"{reader.Path}: the container reports no frames");
        }
        return (int)Math.Min(n, int.MaxValue);
    }

    private static void Augmented(Clip decoded, VideoPipelineOptions options, Random rng, Span<float> destination)
    {
        int s = options.InputSize;
        bool flips = options.FlipsClips;
        int perView = 3 * options.Frames * s * s;
        // Per view, the draws of VideoMAE's _aug_frame in its order: RandAugment on the whole frames, then the crop
        // (MultiScaleCrop / RandomResizedCrop), then the flip.
        int view = 0;
        List<(Clip Source, CropBox Box, bool Flip)> views = RepeatedAugmentation.Apply(decoded, options.Repeats, rng, (clip, r) =>
        {
            Clip source = clip;
            if (options.RandAugment is RandAugmentPolicy policy)
            {
                t_augmented ??= [];
                source = RandAugment.Apply(clip, policy, r, view < t_augmented.Count ? t_augmented[view] : null);
                if (view < t_augmented.Count)
                {
                    t_augmented[view] = source;
                }
                else
                {
                    t_augmented.Add(source);
                }
            }
            view++;
            CropBox box = options.Protocol == PipelineProtocol.Pretrain && options.PretrainCrop == PretrainCrop.MultiScale
                ? ClipTransforms.SampleMultiScaleCrop(source.Width, source.Height, s, s, r)
                : ClipTransforms.SampleRandomResizedCrop(source.Width, source.Height, r, options.MinCropScale, 1.0, options.CropAspect[0], options.CropAspect[^1]);
            return (source, box, flips && r.NextDouble() < 0.5);
        });
        for (int v = 0; v < views.Count; v++)
        {
            Clip source = views[v].Source;
            Normalization.CropResizeToNormalizedCthw(source.Pixels, source.Frames, source.Width, source.Height, views[v].Box, s, s,
                views[v].Flip, destination.Slice(v * perView, perView), options.Mean, options.Std);
        }
    }

    /// <summary>The frames at <paramref name="indices"/> (in that order, repeats allowed) as a new clip.</summary>
    public static Clip SelectFrames(Clip clip, int[] indices)
    {
        var selected = new Clip(indices.Length, clip.Height, clip.Width);
        for (int i = 0; i < indices.Length; i++)
        {
            clip.Frame(Math.Clamp(indices[i], 0, clip.Frames - 1)).CopyTo(selected.Frame(i));
        }
        return selected;
    }

    // Each worker's RandAugment output, one clip per view, overwritten by its next item.
    [ThreadStatic]
    private static List<Clip>? t_augmented;

    private static void TestViews(VideoReader reader, int n, FrameResize resize, VideoPipelineOptions options, Span<float> destination)
    {
        int[][] clips = TestIndices(n, options);
        // One read for all temporal clips: they overlap and are in order, so the decoder passes over the video once.
        int[] all = [.. clips.SelectMany(c => c)];
        Clip decoded = reader.Read(all, resize, t_decoded);
        t_decoded = decoded;
        TestViews(decoded, clips.Length, reader.Path, options, destination);
    }

    // The test views of a clip holding the frames of every temporal clip one after the other.
    private static void TestViews(Clip decoded, int clipCount, string path, VideoPipelineOptions options, Span<float> destination)
    {
        int s = options.InputSize;
        if (decoded.Width < s || decoded.Height < s)
        {
            throw new InvalidDataException($"{path}: decoded {decoded.Width}x{decoded.Height} frames are smaller than the {s}x{s} test crop");
        }
        int frames = options.Frames;
        int perView = 3 * frames * s * s;
        for (int k = 0; k < clipCount; k++)
        {
            ReadOnlySpan<byte> clip = decoded.Pixels.AsSpan(k * frames * decoded.FrameStride, frames * decoded.FrameStride);
            for (int crop = 0; crop < options.TestCrops; crop++)
            {
                CropBox box = ClipTransforms.SpatialCropBox(decoded.Width, decoded.Height, s, crop, options.TestCrops);
                int v = k * options.TestCrops + crop;
                Normalization.CropResizeToNormalizedCthw(clip, frames, decoded.Width, decoded.Height, box, s, s, flip: false,
                    destination.Slice(v * perView, perView), options.Mean, options.Std);
            }
        }
    }
}
