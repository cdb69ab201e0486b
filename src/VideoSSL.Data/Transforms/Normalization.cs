namespace VideoSSL.Data.Transforms;

/// <summary>uint8 RGB → float, divided by 255, minus mean, over std, laid out [3, T, H, W] (channels first).</summary>
public static class Normalization
{
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    public static float[] ToNormalizedCthw(Clip clip) => ToNormalizedCthw(clip, ImageNetMean, ImageNetStd);

    public static float[] ToNormalizedCthw(Clip clip, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        var output = new float[3L * clip.Frames * clip.Height * clip.Width];
        ToNormalizedCthw(clip, output, mean, std);
        return output;
    }

    /// <summary>Writes into <paramref name="destination"/> (3·T·H·W floats), e.g. a slot of a batch buffer.</summary>
    public static void ToNormalizedCthw(Clip clip, Span<float> destination, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        if (mean.Length != 3 || std.Length != 3)
        {
            throw new ArgumentException("mean and std need 3 values (R, G, B)");
        }
        int plane = clip.Frames * clip.Height * clip.Width;
        if (destination.Length != 3 * plane)
        {
            throw new ArgumentException($"destination holds {destination.Length} floats, the clip needs {3 * plane}", nameof(destination));
        }
        // 256-entry tables per channel, each value computed in float32 as torch does (x / 255 - mean) / std.
        Span<float> lut = stackalloc float[3 * 256];
        for (int c = 0; c < 3; c++)
        {
            for (int v = 0; v < 256; v++)
            {
                lut[c * 256 + v] = (v / 255f - mean[c]) / std[c];
            }
        }
        ReadOnlySpan<float> lr = lut[..256];
        ReadOnlySpan<float> lg = lut.Slice(256, 256);
        ReadOnlySpan<float> lb = lut.Slice(512, 256);
        Span<float> r = destination[..plane];
        Span<float> g = destination.Slice(plane, plane);
        Span<float> b = destination.Slice(2 * plane, plane);
        ReadOnlySpan<byte> pixels = clip.Pixels;
        for (int p = 0, s = 0; p < plane; p++, s += 3)
        {
            r[p] = lr[pixels[s]];
            g[p] = lg[pixels[s + 1]];
            b[p] = lb[pixels[s + 2]];
        }
    }
}

/// <summary>Repeated augmentation: one decoded clip, several independently augmented views of it.</summary>
public static class RepeatedAugmentation
{
    /// <summary>Applies <paramref name="augment"/> <paramref name="count"/> times to the same decoded clip, drawing from one RNG in order.</summary>
    public static List<T> Apply<T>(Clip decoded, int count, Random rng, Func<Clip, Random, T> augment)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var views = new List<T>(count);
        for (int i = 0; i < count; i++)
        {
            views.Add(augment(decoded, rng));
        }
        return views;
    }
}
