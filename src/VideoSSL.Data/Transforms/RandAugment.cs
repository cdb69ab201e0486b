using System.Globalization;
using System.Text.RegularExpressions;

namespace VideoSSL.Data.Transforms;

/// <summary>
/// A RandAugment policy in timm's string form, e.g. VideoMAE fine-tuning's <c>rand-m7-n4-mstd0.5-inc1</c>:
/// magnitude m (0–10), n ops per clip, magnitude noise std mstd, and inc1 for the variants whose strength
/// increases with the magnitude.
/// </summary>
public sealed record RandAugmentPolicy(int Magnitude = 7, int NumOps = 2, double MagnitudeStd = 0, bool Increasing = false)
{
    /// <summary>VideoMAE's fine-tuning default (run_class_finetuning.py: --aa rand-m7-n4-mstd0.5-inc1).</summary>
    public const string VideoMae = "rand-m7-n4-mstd0.5-inc1";

    /// <summary>Parses timm's form; "" and "none" mean no RandAugment (null). <paramref name="key"/> names the setting in errors.</summary>
    public static RandAugmentPolicy? Parse(string text, string key = "auto_augment")
    {
        if (string.IsNullOrWhiteSpace(text) || text.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        string[] parts = text.Split('-');
        if (parts[0] != "rand")
        {
            throw new FormatException($"{key}: '{text}' is not a RandAugment policy (expected e.g. '{VideoMae}')");
        }
        // timm defaults: magnitude 10, 2 ops, no noise, the original (non-increasing) op set.
        var policy = new RandAugmentPolicy(Magnitude: 10);
        foreach (string part in parts.Skip(1))
        {
            Match m = Regex.Match(part, @"^(mstd|inc|m|n)(\d+(\.\d+)?)$");
            if (!m.Success)
            {
                throw new FormatException($"{key}: '{part}' in '{text}' is not one of m<int>, n<int>, mstd<float>, inc<0|1>");
            }
            string value = m.Groups[2].Value;
            policy = m.Groups[1].Value switch
            {
                "m" => policy with { Magnitude = int.Parse(value, CultureInfo.InvariantCulture) },
                "n" => policy with { NumOps = int.Parse(value, CultureInfo.InvariantCulture) },
                "mstd" => policy with { MagnitudeStd = double.Parse(value, CultureInfo.InvariantCulture) },
                _ => policy with { Increasing = value != "0" },
            };
        }
        if (policy.Magnitude is < 0 or > 10 || policy.NumOps < 1)
        {
            throw new FormatException($"{key}: '{text}' needs a magnitude in 0..10 and at least one op");
        }
        return policy;
    }
}

/// <summary>
/// RandAugment for clips: every op is drawn, switched on and given its strength once per clip and then applied to
/// every frame, so the clip stays temporally coherent. The ops, their ranges and the order of the random draws follow
/// VideoMAE's rand_augment.py (SlowFast's copy of timm's auto_augment.py, AugmentOp applied to a frame list); each op
/// reproduces its PIL function (ImageOps, ImageEnhance, Image.transform with bicubic resampling and grey fill).
/// </summary>
public static class RandAugment
{
    private const double MaxLevel = 10;
    private const double OpProbability = 0.5;

    // VideoMAE passes no img_mean, so geometric ops fill with timm's _FILL.
    private const byte Fill = 128;

    public enum Op
    {
        AutoContrast,
        Equalize,
        Invert,
        Rotate,
        Posterize,
        Solarize,
        SolarizeAdd,
        Color,
        Contrast,
        Brightness,
        Sharpness,
        ShearX,
        ShearY,
        TranslateXRel,
        TranslateYRel,
    }

    /// <summary>The 15 ops of _RAND_TRANSFORMS / _RAND_INCREASING_TRANSFORMS (the same ops; inc changes how levels map to arguments).</summary>
    public static readonly IReadOnlyList<Op> Ops = Enum.GetValues<Op>();

    /// <summary>Applies <paramref name="policy"/> to a copy of <paramref name="clip"/> (or to <paramref name="into"/> when it has the clip's size).</summary>
    public static Clip Apply(Clip clip, RandAugmentPolicy policy, Random rng, Clip? into = null)
    {
        Clip result = into is not null && into.Frames == clip.Frames && into.Height == clip.Height && into.Width == clip.Width
            ? into
            : new Clip(clip.Frames, clip.Height, clip.Width);
        clip.Pixels.CopyTo(result.Pixels, 0);
        // np.random.choice(ops, n, replace=True): all n ops are drawn before any is applied.
        var chosen = new Op[policy.NumOps];
        for (int i = 0; i < chosen.Length; i++)
        {
            chosen[i] = Ops[rng.Next(Ops.Count)];
        }
        byte[] scratch = t_scratch is { } kept && kept.Length >= result.FrameStride ? kept : (t_scratch = new byte[result.FrameStride]);
        foreach (Op op in chosen)
        {
            if (rng.NextDouble() > OpProbability)
            {
                continue;
            }
            double magnitude = policy.MagnitudeStd > 0 ? Gaussian(rng, policy.Magnitude, policy.MagnitudeStd) : policy.Magnitude;
            magnitude = Math.Clamp(magnitude, 0, MaxLevel);
            double argument = Argument(op, magnitude, policy.Increasing, rng);
            for (int t = 0; t < result.Frames; t++)
            {
                ApplyToFrame(op, argument, result.Frame(t), result.Width, result.Height, scratch);
            }
        }
        return result;
    }

    // One frame of working space per loader worker (smoothing and resampling read the frame while writing it).
    [ThreadStatic]
    private static byte[]? t_scratch;

    /// <summary>The PIL-level argument of <paramref name="op"/> at <paramref name="magnitude"/> (timm's *_level_to_arg; signs drawn from <paramref name="rng"/>).</summary>
    public static double Argument(Op op, double magnitude, bool increasing, Random rng)
    {
        double level = magnitude / MaxLevel;
        return op switch
        {
            Op.Rotate => Negate(level * 30, rng),
            Op.Posterize => increasing ? 4 - (int)(level * 4) : (int)(level * 4),
            Op.Solarize => increasing ? 256 - (int)(level * 256) : (int)(level * 256),
            Op.SolarizeAdd => (int)(level * 110),
            Op.Color or Op.Contrast or Op.Brightness or Op.Sharpness => increasing ? 1 + Negate(level * 0.9, rng) : level * 1.8 + 0.1,
            Op.ShearX or Op.ShearY => Negate(level * 0.3, rng),
            Op.TranslateXRel or Op.TranslateYRel => Negate(level * 0.45, rng),
            _ => 0,
        };
    }

    /// <summary>One op on one RGB24 frame, in place. <paramref name="scratch"/> holds at least one frame.</summary>
    public static void ApplyToFrame(Op op, double argument, Span<byte> frame, int width, int height, byte[] scratch)
    {
        switch (op)
        {
            case Op.AutoContrast: ApplyLut(frame, AutoContrastLut(frame)); break;
            case Op.Equalize: ApplyLut(frame, EqualizeLut(frame)); break;
            case Op.Invert: ApplyLut(frame, Lut(v => 255 - v)); break;
            case Op.Posterize:
                int bits = (int)argument;
                if (bits < 8)
                {
                    int mask = ~((1 << (8 - bits)) - 1);
                    ApplyLut(frame, Lut(v => v & mask));
                }
                break;
            case Op.Solarize: ApplyLut(frame, Lut(v => v < argument ? v : 255 - v)); break;
            case Op.SolarizeAdd: ApplyLut(frame, Lut(v => v < 128 ? Math.Min(255, v + (int)argument) : v)); break;
            case Op.Color: BlendWithGrey(frame, (float)argument, perPixel: true); break;
            case Op.Contrast: BlendWithGrey(frame, (float)argument, perPixel: false); break;
            case Op.Brightness: Blend(frame, default, (float)argument); break;
            case Op.Sharpness:
                Smooth(frame, width, height, scratch);
                Blend(frame, scratch, (float)argument);
                break;
            case Op.Rotate: Affine(frame, width, height, RotationMatrix(argument, width, height), scratch); break;
            case Op.ShearX: Affine(frame, width, height, [1, argument, 0, 0, 1, 0], scratch); break;
            case Op.ShearY: Affine(frame, width, height, [1, 0, 0, argument, 1, 0], scratch); break;
            case Op.TranslateXRel: Affine(frame, width, height, [1, 0, argument * width, 0, 1, 0], scratch); break;
            case Op.TranslateYRel: Affine(frame, width, height, [1, 0, 0, 0, 1, argument * height], scratch); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    /// <summary>PIL Image.rotate(degrees) about the centre: the output-to-input affine matrix (counter-clockwise for positive degrees).</summary>
    public static double[] RotationMatrix(double degrees, int width, int height)
    {
        double angle = -degrees * Math.PI / 180;
        double cos = Math.Round(Math.Cos(angle), 15);
        double sin = Math.Round(Math.Sin(angle), 15);
        double cx = width / 2.0;
        double cy = height / 2.0;
        return [cos, sin, cos * -cx + sin * -cy + cx, -sin, cos, -sin * -cx + cos * -cy + cy];
    }

    private static double Negate(double value, Random rng) => rng.NextDouble() > 0.5 ? -value : value;

    private static double Gaussian(Random rng, double mean, double std)
    {
        // Box–Muller; 1 − u keeps the logarithm finite.
        double u1 = 1 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static byte[] Lut(Func<int, int> f)
    {
        var lut = new byte[256];
        for (int v = 0; v < 256; v++)
        {
            lut[v] = (byte)Math.Clamp(f(v), 0, 255);
        }
        return lut;
    }

    /// <summary>A 256-entry table for all channels, or 768 entries (R, G, B) for per-channel tables.</summary>
    private static void ApplyLut(Span<byte> frame, byte[] lut)
    {
        int stride = lut.Length == 768 ? 256 : 0;
        for (int i = 0; i < frame.Length; i += 3)
        {
            frame[i] = lut[frame[i]];
            frame[i + 1] = lut[stride + frame[i + 1]];
            frame[i + 2] = lut[2 * stride + frame[i + 2]];
        }
    }

    private static int[] Histograms(ReadOnlySpan<byte> frame)
    {
        var h = new int[768];
        for (int i = 0; i < frame.Length; i += 3)
        {
            h[frame[i]]++;
            h[256 + frame[i + 1]]++;
            h[512 + frame[i + 2]]++;
        }
        return h;
    }

    // PIL ImageOps.autocontrast(cutoff=0): each channel's [min, max] stretched to [0, 255], truncating.
    private static byte[] AutoContrastLut(ReadOnlySpan<byte> frame)
    {
        int[] h = Histograms(frame);
        var lut = new byte[768];
        for (int c = 0; c < 3; c++)
        {
            int lo = 0;
            while (lo < 256 && h[c * 256 + lo] == 0)
            {
                lo++;
            }
            int hi = 255;
            while (hi >= 0 && h[c * 256 + hi] == 0)
            {
                hi--;
            }
            double scale = hi > lo ? 255.0 / (hi - lo) : 1;
            double offset = hi > lo ? -lo * scale : 0;
            for (int v = 0; v < 256; v++)
            {
                lut[c * 256 + v] = (byte)Math.Clamp((int)(v * scale + offset), 0, 255);
            }
        }
        return lut;
    }

    // PIL ImageOps.equalize: per channel, step = (pixels − count of the last used level) // 255, lut[i] = (step//2 + cdf(i−1)) // step.
    private static byte[] EqualizeLut(ReadOnlySpan<byte> frame)
    {
        int[] h = Histograms(frame);
        var lut = new byte[768];
        for (int c = 0; c < 3; c++)
        {
            int total = 0;
            int last = 0;
            int used = 0;
            for (int v = 0; v < 256; v++)
            {
                int count = h[c * 256 + v];
                if (count > 0)
                {
                    total += count;
                    last = count;
                    used++;
                }
            }
            int step = (total - last) / 255;
            if (used <= 1 || step == 0)
            {
                for (int v = 0; v < 256; v++)
                {
                    lut[c * 256 + v] = (byte)v;
                }
                continue;
            }
            int n = step / 2;
            for (int v = 0; v < 256; v++)
            {
                lut[c * 256 + v] = (byte)Math.Min(255, n / step);
                n += h[c * 256 + v];
            }
        }
        return lut;
    }

    // PIL's "L" conversion: ITU-R 601-2 luma in 16-bit fixed point, rounded.
    private static int Luma(byte r, byte g, byte b) => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;

    // ImageEnhance.Color (degenerate = the pixel's own grey) and Contrast (degenerate = the frame's rounded mean grey).
    private static void BlendWithGrey(Span<byte> frame, float factor, bool perPixel)
    {
        int mean = 0;
        if (!perPixel)
        {
            long sum = 0;
            for (int i = 0; i < frame.Length; i += 3)
            {
                sum += Luma(frame[i], frame[i + 1], frame[i + 2]);
            }
            mean = (int)(sum / (double)(frame.Length / 3) + 0.5);
        }
        for (int i = 0; i < frame.Length; i += 3)
        {
            int grey = perPixel ? Luma(frame[i], frame[i + 1], frame[i + 2]) : mean;
            frame[i] = BlendValue(grey, frame[i], factor);
            frame[i + 1] = BlendValue(grey, frame[i + 1], factor);
            frame[i + 2] = BlendValue(grey, frame[i + 2], factor);
        }
    }

    // Image.blend(degenerate, image, factor): degenerate + factor · (image − degenerate), truncated to uint8. Null degenerate = black.
    private static void Blend(Span<byte> frame, ReadOnlySpan<byte> degenerate, float factor)
    {
        for (int i = 0; i < frame.Length; i++)
        {
            frame[i] = BlendValue(degenerate.IsEmpty ? 0 : degenerate[i], frame[i], factor);
        }
    }

    private static byte BlendValue(int degenerate, int image, float factor)
    {
        float value = degenerate + factor * (image - degenerate);
        return value <= 0 ? (byte)0 : value >= 255 ? (byte)255 : (byte)value;
    }

    // ImageFilter.SMOOTH (3×3 kernel 1 1 1 / 1 5 1 / 1 1 1, scale 13) into `into`; PIL copies the one-pixel border unfiltered.
    private static void Smooth(ReadOnlySpan<byte> frame, int width, int height, Span<byte> into)
    {
        frame.CopyTo(into);
        int row = width * 3;
        for (int y = 1; y < height - 1; y++)
        {
            for (int x = 1; x < width - 1; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    int o = y * row + x * 3 + c;
                    int sum = frame[o - row - 3] + frame[o - row] + frame[o - row + 3]
                        + frame[o - 3] + 5 * frame[o] + frame[o + 3]
                        + frame[o + row - 3] + frame[o + row] + frame[o + row + 3];
                    into[o] = (byte)Math.Min(255, (sum + 6) / 13);
                }
            }
        }
    }

    // Image.transform(AFFINE, (a, b, c, d, e, f), BICUBIC, fillcolor): output pixel centre (x + .5, y + .5) samples the
    // input at (a·x' + b·y' + c, d·x' + e·y' + f); points outside the frame get the fill; taps clamp to the edge.
    private static void Affine(Span<byte> frame, int width, int height, double[] m, byte[] scratch)
    {
        Span<byte> source = scratch.AsSpan(0, frame.Length);
        frame.CopyTo(source);
        int row = width * 3;
        Span<double> wx = stackalloc double[4];
        Span<double> wy = stackalloc double[4];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                double xin = m[0] * (x + 0.5) + m[1] * (y + 0.5) + m[2];
                double yin = m[3] * (x + 0.5) + m[4] * (y + 0.5) + m[5];
                int o = y * row + x * 3;
                if (xin < 0 || yin < 0 || xin >= width || yin >= height)
                {
                    frame[o] = frame[o + 1] = frame[o + 2] = Fill;
                    continue;
                }
                xin -= 0.5;
                yin -= 0.5;
                int x0 = (int)Math.Floor(xin);
                int y0 = (int)Math.Floor(yin);
                CubicWeights(xin - x0, wx);
                CubicWeights(yin - y0, wy);
                // The 16 taps once for all three channels, summed along x first and then y, as PIL does; taps past
                // the edge repeat the edge pixel.
                double r = 0, g = 0, bl = 0;
                for (int j = 0; j < 4; j++)
                {
                    int line = Math.Clamp(y0 - 1 + j, 0, height - 1) * row;
                    double lr = 0, lg = 0, lb = 0;
                    for (int i = 0; i < 4; i++)
                    {
                        int tap = line + Math.Clamp(x0 - 1 + i, 0, width - 1) * 3;
                        lr += wx[i] * source[tap];
                        lg += wx[i] * source[tap + 1];
                        lb += wx[i] * source[tap + 2];
                    }
                    r += wy[j] * lr;
                    g += wy[j] * lg;
                    bl += wy[j] * lb;
                }
                frame[o] = Truncate(r);
                frame[o + 1] = Truncate(g);
                frame[o + 2] = Truncate(bl);
            }
        }
    }

    // PIL truncates resampled values rather than rounding them.
    private static byte Truncate(double value) => value <= 0 ? (byte)0 : value >= 255 ? (byte)255 : (byte)value;

    // Cubic convolution weights of the taps at −1, 0, 1, 2 for fraction t. PIL's transform uses a = −1 (Geometry.c's
    // BICUBIC macro), not the a = −0.5 of its resize filters.
    private static void CubicWeights(double t, Span<double> w)
    {
        const double a = -1;
        static double Near(double d, double a) => ((a + 2) * d - (a + 3)) * d * d + 1;
        static double Far(double d, double a) => ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
        w[0] = Far(1 + t, a);
        w[1] = Near(t, a);
        w[2] = Near(1 - t, a);
        w[3] = Far(2 - t, a);
    }
}
