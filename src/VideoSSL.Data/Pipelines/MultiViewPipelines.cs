using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Transforms;
using VideoSSL.Data.Video;

namespace VideoSSL.Data.Pipelines;

/// <summary>
/// SVT's multi-view pretraining items: one window of the video is decoded once, and every view of a
/// <see cref="MultiViewSpec"/> is cut from it (its own frames of the window, random resized crop, flip, colour
/// jitter, grayscale, normalisation). The views are written back to back into the loader's flat item
/// ([<see cref="MultiViewSpec.ItemFloats"/>] floats), so <see cref="ClipLoader"/>'s determinism (one RNG per
/// (seed, epoch, index)), resume, sharding and corrupt-video skipping apply unchanged.
/// <para>
/// Sources (kahnchana/svt): datasets/decoder.py <c>pyav_decode</c> + <c>decode(temporal_aug=True, rand_fr=True)</c>
/// for the window and the frames of each view, datasets/transform.py <c>VideoDataAugmentationDINO</c> and
/// <c>random_resized_crop</c>, <c>color_jitter</c>, <c>grayscale</c>, <c>resize(mode="bicubic")</c> for the rest.
/// </para>
/// <para>
/// Decode size. A random resized crop of area fraction s and aspect 1 on a square frame of short side L has side
/// L·√s, so at L ≥ size / √minScale (355 px for 224 px globals at 0.4) no global crop of aspect 1 is upsampled;
/// larger videos are decoded at that short side, smaller ones (Kinetics preprocessed to 256 or 320) at their own
/// size, where the crop geometry is the official one exactly. Local views (96 px at 0.05–0.4) are upsampled either
/// way, as in the official code, which crops from the same frames.
/// </para>
/// </summary>
public static class MultiViewPipelines
{
    /// <summary>The frame rate the official decoder converts the window to (DATA.TARGET_FPS).</summary>
    public const double TargetFps = 30;

    /// <summary>
    /// The pipeline as a loader writer. The window is <paramref name="options"/>' Frames × Stride frames at 30 fps
    /// (the official DATA.NUM_FRAMES × DATA.SAMPLING_RATE = 8 × 8); decoder threads, decode size cap, mean and std
    /// come from <paramref name="options"/> as well.
    /// </summary>
    public static ClipItemWriter CreateWriter(VideoPipelineOptions options, MultiViewSpec spec)
    {
        options.Validate();
        Validate(spec);
        return new ClipItemWriter([checked((int)spec.ItemFloats)], (sample, _, _, rng, destination) => RunInto(sample, rng, options, spec, destination));
    }

    /// <summary>Throws, naming the view, on a spec no pipeline can cut.</summary>
    public static void Validate(MultiViewSpec spec)
    {
        if (spec.Views.Count == 0)
        {
            throw new ArgumentException("a multi-view spec needs at least one view");
        }
        foreach (var v in spec.Views)
        {
            if (v.Frames < 1 || v.Size < 1)
            {
                throw new ArgumentException($"view {v.Name}: frames ({v.Frames}) and size ({v.Size}) must be at least 1");
            }
            if (!(v.MinScale > 0 && v.MinScale <= v.MaxScale && v.MaxScale <= 1))
            {
                throw new ArgumentException($"view {v.Name}: crop scale {v.MinScale}–{v.MaxScale} must satisfy 0 < min <= max <= 1");
            }
        }
        if (spec.Views.Select(v => v.Name).Distinct(StringComparer.Ordinal).Count() != spec.Views.Count)
        {
            throw new ArgumentException($"view names must be unique ({string.Join(", ", spec.Views.Select(v => v.Name))})");
        }
        if (spec.ItemFloats > int.MaxValue)
        {
            throw new ArgumentException($"the views of one item hold {spec.ItemFloats} floats, more than one buffer can");
        }
    }

    /// <summary>Decodes the window of one video once and writes every view; returns the label.</summary>
    public static int RunInto(VideoSample sample, Random rng, VideoPipelineOptions options, MultiViewSpec spec, Span<float> destination)
    {
        if (destination.Length != spec.ItemFloats)
        {
            throw new ArgumentException($"destination holds {destination.Length} floats, the views need {spec.ItemFloats}", nameof(destination));
        }
        if (options.Render is { } render)
        {
            // A procedural sample is rendered whole, with no fps: the window is Frames x Stride of its frames, and each
            // view reads its frames straight from the rendered clip.
            Clip full = render(sample);
            ViewDraw[] rendered = Draw(full.Frames, WindowFrames(options, fps: 0), full.Width, full.Height, spec, rng, options.Flip != false);
            long at = 0;
            for (int v = 0; v < rendered.Length; v++)
            {
                ViewSpec view = spec.Views[v];
                WriteView(full, rendered[v].Frames, rendered[v], view.Size, destination.Slice((int)at, (int)view.Floats), options.Mean, options.Std);
                at += view.Floats;
            }
            return sample.Label;
        }
        using VideoReader reader = VideoReader.Open(sample.Path, options.DecoderThreads);
        long count = reader.Info.FrameCount;
        if (count < 1)
        {
            throw new InvalidDataException($"{reader.Path}: the container reports no frames");
        }
        FrameResize resize = DecodeResize(reader.Info, options, spec);
        (int width, int height) = reader.OutputSize(resize);
        int window = WindowFrames(options, reader.Info.Fps);
        ViewDraw[] draws = Draw((int)Math.Min(count, int.MaxValue), window, width, height, spec, rng, options.Flip != false);

        // One pass over the video for all views: their frames back to back (the reader decodes each frame once and
        // fills its repeats), so the clip has the same size for every item and the worker's buffer is reused.
        int[] frames = [.. draws.SelectMany(d => d.Frames)];
        Clip decoded = reader.Read(frames, resize, t_decoded);
        t_decoded = decoded;
        long offset = 0;
        int first = 0;
        for (int v = 0; v < draws.Length; v++)
        {
            ViewSpec view = spec.Views[v];
            int[] slots = [.. Enumerable.Range(first, view.Frames)];
            WriteView(decoded, slots, draws[v], view.Size, destination.Slice((int)offset, (int)view.Floats), options.Mean, options.Std);
            offset += view.Floats;
            first += view.Frames;
        }
        return sample.Label;
    }

    // Each loader worker keeps its last decoded window and decodes the next video into it when the size matches.
    [ThreadStatic]
    private static Clip? t_decoded;

    /// <summary>Frames of the window: Frames × Stride at 30 fps, in the video's own frames (official clip_size = sampling_rate · num_frames / target_fps · fps).</summary>
    public static int WindowFrames(VideoPipelineOptions options, double fps)
    {
        int frames = options.Frames * options.Stride;
        return fps > 0 && double.IsFinite(fps) ? Math.Max(1, (int)(frames / TargetFps * fps)) : frames;
    }

    /// <summary>The decoder resize for a video of this size (see the class remarks); <see cref="VideoPipelineOptions.DecodeShortSide"/> overrides the target.</summary>
    public static FrameResize DecodeResize(VideoInfo info, VideoPipelineOptions options, MultiViewSpec spec)
    {
        int need = spec.Views.Where(v => v.Global).DefaultIfEmpty(spec.Views[0])
            .Max(v => (int)Math.Ceiling(v.Size / Math.Sqrt(v.MinScale)));
        int target = options.DecodeShortSide ?? need + (need & 1);
        if (Math.Min(info.Width, info.Height) <= target)
        {
            return FrameResize.None;
        }
        (int w, int h) = VideoPipelines.ShortSideSize(info.Width, info.Height, target);
        return FrameResize.Exact(w, h);
    }

    /// <summary>
    /// Every random choice of one item, in a fixed order: the window's start, each local view's start in the window
    /// (decoder.py), then per view its crop, flip, jitter and grayscale (transform.py). <paramref name="width"/> ×
    /// <paramref name="height"/> is the decoded frame size. Frames are absolute indices into the video.
    /// </summary>
    /// <param name="flips">False (<c>data.flip: false</c>, for data whose labels tell left from right; unset = SVT's own flips): no view is
    /// flipped; the flip's draw still happens, so every other choice is the same as with flips.</param>
    public static ViewDraw[] Draw(int frameCount, int window, int width, int height, MultiViewSpec spec, Random rng, bool flips = true)
    {
        // decoder.py: a random window start (uniform in [0, n − clip_size]); PyAV then yields the frames of that window.
        int length = Math.Min(window, frameCount);
        int start = rng.Next(frameCount - length + 1);
        int[][] temporal = TemporalIndices(length, spec.Views, rng);
        var draws = new ViewDraw[spec.Views.Count];
        for (int v = 0; v < draws.Length; v++)
        {
            ViewSpec view = spec.Views[v];
            CropBox box = SampleCrop(width, height, view.MinScale, view.MaxScale, rng);
            // flip_and_color_jitter: flip p 0.5, jitter p 0.8, grayscale p 0.2. The blur and solarisation draws of
            // global_transform2 / local_transform are left out: both transforms are no-ops in the official code.
            bool flip = rng.NextDouble() < FlipProbability && flips;
            JitterStep[]? jitter = rng.NextDouble() < JitterProbability ? DrawJitter(rng) : null;
            bool gray = rng.NextDouble() < GrayscaleProbability;
            draws[v] = new ViewDraw([.. temporal[v].Select(i => start + i)], box, flip, jitter, gray);
        }
        return draws;
    }

    // kahnchana/svt datasets/transform.py VideoDataAugmentationDINO.flip_and_color_jitter.
    public const double FlipProbability = 0.5;
    public const double JitterProbability = 0.8;
    public const double GrayscaleProbability = 0.2;

    /// <summary>Jitter strengths: color_jitter(img_brightness=0.4, img_contrast=0.4, img_saturation=0.2); the official video code has no hue jitter.</summary>
    public const double Brightness = 0.4;
    public const double Contrast = 0.4;
    public const double Saturation = 0.2;

    /// <summary>
    /// Frame indices of each view within a window of <paramref name="length"/> frames (decoder.py, rand_fr):
    /// global views alternate over [0, L − 5] and [5, L], local views span L // 8 frames from a start drawn
    /// uniformly in [0, L − L // 8 − 1]; each is torch.linspace(start, end, T) clamped to [0, L − 1] and truncated.
    /// </summary>
    public static int[][] TemporalIndices(int length, IReadOnlyList<ViewSpec> views, Random rng)
    {
        var result = new int[views.Count][];
        int globals = 0;
        int localWidth = length / 8;
        for (int v = 0; v < views.Count; v++)
        {
            if (views[v].Global)
            {
                result[v] = globals++ % 2 == 0
                    ? TemporalSampling(length, 0, length - 5, views[v].Frames)
                    : TemporalSampling(length, 5, length, views[v].Frames);
            }
            else
            {
                // random.randint(0, max_len - local_width - 1): both ends inclusive.
                int start = rng.Next(length - localWidth);
                result[v] = TemporalSampling(length, start, start + localWidth, views[v].Frames);
            }
        }
        return result;
    }

    /// <summary>decoder.py temporal_sampling: torch.linspace(start, end, n) in float32, clamped to [0, length − 1], .long().</summary>
    public static int[] TemporalSampling(int length, int start, int end, int n)
    {
        var indices = new int[n];
        // ATen's linspace kernel: the first half counts up from start, the second half down from end; one step is start.
        if (n == 1)
        {
            return [Math.Clamp(start, 0, length - 1)];
        }
        float step = ((float)end - start) / (n - 1);
        int halfway = n / 2;
        for (int i = 0; i < n; i++)
        {
            float value = i < halfway ? start + step * i : end - step * (n - i - 1);
            indices[i] = (int)Math.Clamp(value, 0f, length - 1);
        }
        return indices;
    }

    /// <summary>
    /// transform.py random_resized_crop: 10 tries of (area fraction in [min, max], log-uniform aspect 3/4–4/3) with
    /// NO break: the position is the last valid try's (each valid try draws its top, then left), but the size is the
    /// tenth try's, valid or not, cut to the frame by the tensor slice; a centre crop if no try fits.
    /// </summary>
    public static CropBox SampleCrop(int width, int height, double minScale, double maxScale, Random rng)
    {
        double area = (double)width * height;
        double logMin = Math.Log(3.0 / 4);
        double logMax = Math.Log(4.0 / 3);
        (int Top, int Left)? position = null;
        int w = 0;
        int h = 0;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double targetArea = area * (minScale + rng.NextDouble() * (maxScale - minScale));
            double aspect = Math.Exp(logMin + rng.NextDouble() * (logMax - logMin));
            // Python's round(np.float64) rounds half to even, as Math.Round does.
            w = (int)Math.Round(Math.Sqrt(targetArea * aspect));
            h = (int)Math.Round(Math.Sqrt(targetArea / aspect));
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = rng.Next(height - h + 1);
                int left = rng.Next(width - w + 1);
                position = (top, left);
            }
        }
        if (position is var (i, j))
        {
            // images[:, :, i: i + h, j: j + w] with the last try's h and w: a slice past the edge stops at it.
            return new CropBox(j, i, Math.Min(w, width - j), Math.Min(h, height - i));
        }
        double ratio = (double)width / height;
        (int cw, int ch) = ratio < 3.0 / 4 ? (width, (int)Math.Round(width / (3.0 / 4)))
            : ratio > 4.0 / 3 ? ((int)Math.Round(height * (4.0 / 3)), height)
            : (width, height);
        return new CropBox((width - cw) / 2, (height - ch) / 2, cw, ch);
    }

    /// <summary>color_jitter: the three adjustments in a random order (np.random.permutation), each factor 1 + U(−s, s) drawn when applied.</summary>
    private static JitterStep[] DrawJitter(Random rng)
    {
        JitterKind[] order = [JitterKind.Brightness, JitterKind.Contrast, JitterKind.Saturation];
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var steps = new JitterStep[order.Length];
        for (int i = 0; i < order.Length; i++)
        {
            double strength = order[i] switch
            {
                JitterKind.Brightness => Brightness,
                JitterKind.Contrast => Contrast,
                _ => Saturation,
            };
            steps[i] = new JitterStep(order[i], 1.0 + (rng.NextDouble() * 2 - 1) * strength);
        }
        return steps;
    }

    /// <summary>
    /// One view from its draw: crop of frames <paramref name="slots"/> of <paramref name="decoded"/>, bicubic resize to
    /// size × size, flip, jitter, grayscale, normalisation; [3, T, size, size] floats. Deterministic given the draw.
    /// </summary>
    public static void WriteView(Clip decoded, int[] slots, ViewDraw draw, int size, Span<float> destination, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        int frames = slots.Length;
        int frame = size * size;
        int plane = frames * frame;
        if (destination.Length != 3 * plane)
        {
            throw new ArgumentException($"destination holds {destination.Length} floats, the view needs {3 * plane}", nameof(destination));
        }
        for (int t = 0; t < frames; t++)
        {
            BicubicResize.CropResizeToPlanes(decoded.Frame(slots[t]), decoded.Width, decoded.Height, draw.Box, size, size, draw.Flip,
                destination.Slice(t * frame, frame), destination.Slice(plane + t * frame, frame), destination.Slice(2 * plane + t * frame, frame));
        }
        Span<float> r = destination[..plane];
        Span<float> g = destination.Slice(plane, plane);
        Span<float> b = destination.Slice(2 * plane, plane);
        if (draw.Jitter is { } jitter)
        {
            foreach (var step in jitter)
            {
                float alpha = (float)step.Factor;
                float beta = (float)(1 - step.Factor);
                switch (step.Kind)
                {
                    case JitterKind.Brightness:
                        // blend with zeros
                        for (int p = 0; p < plane; p++)
                        {
                            r[p] *= alpha;
                            g[p] *= alpha;
                            b[p] *= alpha;
                        }
                        break;
                    case JitterKind.Contrast:
                        // blend with the mean of each frame's grayscale image
                        for (int t = 0; t < frames; t++)
                        {
                            double sum = 0;
                            for (int p = t * frame; p < (t + 1) * frame; p++)
                            {
                                sum += Gray(r[p], g[p], b[p]);
                            }
                            float m = (float)(sum / frame) * beta;
                            for (int p = t * frame; p < (t + 1) * frame; p++)
                            {
                                r[p] = r[p] * alpha + m;
                                g[p] = g[p] * alpha + m;
                                b[p] = b[p] * alpha + m;
                            }
                        }
                        break;
                    default:
                        // blend with the grayscale image
                        for (int p = 0; p < plane; p++)
                        {
                            float gray = Gray(r[p], g[p], b[p]) * beta;
                            r[p] = r[p] * alpha + gray;
                            g[p] = g[p] * alpha + gray;
                            b[p] = b[p] * alpha + gray;
                        }
                        break;
                }
            }
        }
        if (draw.Grayscale)
        {
            for (int p = 0; p < plane; p++)
            {
                float gray = Gray(r[p], g[p], b[p]);
                r[p] = gray;
                g[p] = gray;
                b[p] = gray;
            }
        }
        // color_normalization; values are not clamped to [0, 1] before it (bicubic overshoot and jitter stay, as in the official code).
        Normalize(r, mean[0], std[0]);
        Normalize(g, mean[1], std[1]);
        Normalize(b, mean[2], std[2]);
    }

    /// <summary>
    /// transform.py grayscale() expects BGR and weighs channel 2 by 0.299 and channel 0 by 0.114; the official frames
    /// are RGB (PyAV to_rgb), so red gets 0.114 and blue 0.299. Kept: it is what the published models saw.
    /// </summary>
    private static float Gray(float r, float g, float b) => 0.299f * b + 0.587f * g + 0.114f * r;

    private static void Normalize(Span<float> values, float mean, float std)
    {
        for (int p = 0; p < values.Length; p++)
        {
            values[p] = (values[p] - mean) / std;
        }
    }

    /// <summary>View <paramref name="view"/> of an item back to uint8 frames for display (inverse of the normalisation, clamped).</summary>
    public static Clip Denormalize(ReadOnlySpan<float> item, MultiViewSpec spec, int view, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        long offset = spec.Views.Take(view).Sum(v => v.Floats);
        ViewSpec v = spec.Views[view];
        int plane = v.Frames * v.Size * v.Size;
        ReadOnlySpan<float> data = item.Slice((int)offset, 3 * plane);
        var clip = new Clip(v.Frames, v.Size, v.Size);
        for (int c = 0; c < 3; c++)
        {
            ReadOnlySpan<float> channel = data.Slice(c * plane, plane);
            for (int p = 0; p < plane; p++)
            {
                float value = (channel[p] * std[c] + mean[c]) * 255f;
                clip.Pixels[p * 3 + c] = (byte)Math.Clamp((int)MathF.Round(value), 0, 255);
            }
        }
        return clip;
    }
}

/// <summary>The random choices of one view: its frames (absolute video indices), crop, flip, jitter steps (null = none) and grayscale.</summary>
public sealed record ViewDraw(int[] Frames, CropBox Box, bool Flip, JitterStep[]? Jitter, bool Grayscale);

public enum JitterKind
{
    Brightness,
    Contrast,
    Saturation,
}

/// <summary>One colour adjustment of a jitter, in the order applied, with its blend factor alpha.</summary>
public readonly record struct JitterStep(JitterKind Kind, double Factor);
