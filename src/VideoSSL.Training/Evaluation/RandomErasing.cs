namespace VideoSSL.Training.Evaluation;

/// <summary>What erased pixels are filled with (timm's RandomErasing modes).</summary>
public enum ErasingMode
{
    /// <summary>Zeros (the mean of a normalised clip).</summary>
    Const,

    /// <summary>One N(0, 1) value per channel of each frame.</summary>
    Rand,

    /// <summary>N(0, 1) per pixel (VideoMAE fine-tuning: remode 'pixel').</summary>
    Pixel,
}

/// <summary>One erased rectangle: rows [Top, Top + Height), columns [Left, Left + Width), on every frame.</summary>
public readonly record struct ErasedBox(int Top, int Left, int Height, int Width);

/// <summary>
/// VideoMAE's random erasing in cube mode (random_erasing.py, _erase_cube): with probability p, a box of area
/// U(minArea, maxArea)·H·W/count and log-uniform aspect ratio is erased at the SAME place in every frame (up to
/// 100 tries per box; a box that never fits is skipped). Works in place on one normalised clip [C, T, H, W],
/// as the loader produces it; noise comes from the <see cref="Random"/> passed in, so a seed reproduces it.
/// </summary>
public sealed class RandomErasing
{
    public RandomErasing(double probability = 0.25, ErasingMode mode = ErasingMode.Pixel, double minArea = 0.02, double maxArea = 1.0 / 3,
        double minAspect = 0.3, double? maxAspect = null, int minCount = 1, int? maxCount = null)
    {
        Probability = probability;
        Mode = mode;
        MinArea = minArea;
        MaxArea = maxArea;
        LogAspectMin = Math.Log(minAspect);
        LogAspectMax = Math.Log(maxAspect ?? 1 / minAspect);
        MinCount = minCount;
        MaxCount = maxCount ?? minCount;
    }

    public double Probability { get; }
    public ErasingMode Mode { get; }
    public double MinArea { get; }
    public double MaxArea { get; }
    public double LogAspectMin { get; }
    public double LogAspectMax { get; }
    public int MinCount { get; }
    public int MaxCount { get; }

    /// <summary>Erases in place; returns the boxes erased (none when the coin says no).</summary>
    public IReadOnlyList<ErasedBox> Apply(Span<float> clip, int channels, int frames, int height, int width, Random rng)
    {
        if (clip.Length != (long)channels * frames * height * width)
        {
            throw new ArgumentException($"clip has {clip.Length} values, not C·T·H·W = {channels}·{frames}·{height}·{width}");
        }
        var boxes = new List<ErasedBox>();
        if (rng.NextDouble() > Probability)
        {
            return boxes;
        }
        var area = (double)height * width;
        // Python's random.randint is inclusive at both ends.
        var count = MinCount == MaxCount ? MinCount : rng.Next(MinCount, MaxCount + 1);
        for (var n = 0; n < count; n++)
        {
            for (var attempt = 0; attempt < 100; attempt++)
            {
                var targetArea = Uniform(rng, MinArea, MaxArea) * area / count;
                var aspect = Math.Exp(Uniform(rng, LogAspectMin, LogAspectMax));
                var h = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
                var w = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
                if (w < width && h < height)
                {
                    var top = rng.Next(0, height - h + 1);
                    var left = rng.Next(0, width - w + 1);
                    Fill(clip, channels, frames, height, width, new ErasedBox(top, left, h, w), rng);
                    boxes.Add(new ErasedBox(top, left, h, w));
                    break;
                }
            }
        }
        return boxes;
    }

    // The official loop runs frame by frame (the clip is [T, C, H, W] there) and draws fresh values for each frame.
    private void Fill(Span<float> clip, int channels, int frames, int height, int width, ErasedBox box, Random rng)
    {
        for (var t = 0; t < frames; t++)
        {
            for (var c = 0; c < channels; c++)
            {
                var colour = Mode == ErasingMode.Rand ? (float)Sampling.Normal(rng) : 0f;
                var plane = ((long)c * frames + t) * height * width;
                for (var y = box.Top; y < box.Top + box.Height; y++)
                {
                    var row = clip.Slice((int)(plane + (long)y * width + box.Left), box.Width);
                    if (Mode == ErasingMode.Pixel)
                    {
                        for (var x = 0; x < row.Length; x++)
                        {
                            row[x] = (float)Sampling.Normal(rng);
                        }
                    }
                    else
                    {
                        row.Fill(colour);
                    }
                }
            }
        }
    }

    private static double Uniform(Random rng, double a, double b) => a + (b - a) * rng.NextDouble();
}
