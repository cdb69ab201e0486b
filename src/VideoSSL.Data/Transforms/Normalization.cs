using System.Buffers;

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
        Span<float> lut = stackalloc float[3 * 256];
        FillTables(mean, std, lut);
        NormalizeFrame(clip.Pixels, clip.Width * 3, clip.Width, clip.Frames * clip.Height, flip: false, destination, plane, 0, lut);
    }

    /// <summary>
    /// Crops <paramref name="box"/> out of every frame, resizes it to outWidth × outHeight (bilinear, as
    /// <see cref="BilinearResize"/>), mirrors it when <paramref name="flip"/>, and writes normalised [3, T, H, W]
    /// floats: exactly ResizeRegion → FlipHorizontal → ToNormalizedCthw, but frame by frame through one small
    /// buffer, so a clip costs no intermediate allocations (they dominated the loader's time in page faults).
    /// </summary>
    /// <param name="frames">packed RGB24 frames, [frameCount, height, width, 3]</param>
    public static void CropResizeToNormalizedCthw(ReadOnlySpan<byte> frames, int frameCount, int width, int height, CropBox box,
        int outWidth, int outHeight, bool flip, Span<float> destination, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        if (mean.Length != 3 || std.Length != 3)
        {
            throw new ArgumentException("mean and std need 3 values (R, G, B)");
        }
        int frameBytes = width * height * 3;
        if (frameCount < 1 || frames.Length < (long)frameCount * frameBytes)
        {
            throw new ArgumentException($"{frames.Length} bytes do not hold {frameCount} frames of {width}x{height}", nameof(frames));
        }
        int plane = frameCount * outWidth * outHeight;
        if (destination.Length != 3 * plane)
        {
            throw new ArgumentException($"destination holds {destination.Length} floats, the clip needs {3 * plane}", nameof(destination));
        }
        Span<float> lut = stackalloc float[3 * 256];
        FillTables(mean, std, lut);
        int outFrame = outWidth * outHeight;
        if (box.Width == outWidth && box.Height == outHeight)
        {
            // A same-size resize is the identity: read the crop in place.
            if (box.Left < 0 || box.Top < 0 || box.Left + box.Width > width || box.Top + box.Height > height)
            {
                throw new ArgumentOutOfRangeException(nameof(box), $"crop {box} is not inside the {width}x{height} clip");
            }
            for (int t = 0; t < frameCount; t++)
            {
                ReadOnlySpan<byte> frame = frames.Slice(t * frameBytes + (box.Top * width + box.Left) * 3);
                NormalizeFrame(frame, width * 3, outWidth, outHeight, flip, destination, plane, t * outFrame, lut);
            }
            return;
        }
        var plan = new BilinearResize.Plan(width, height, box, outWidth, outHeight);
        int[] rows = ArrayPool<int>.Shared.Rent(plan.RowsLength);
        try
        {
            for (int t = 0; t < frameCount; t++)
            {
                plan.ResizeFrameToPlanes(frames.Slice(t * frameBytes, frameBytes), rows, flip, destination.Slice(t * outFrame, outFrame),
                    destination.Slice(plane + t * outFrame, outFrame), destination.Slice(2 * plane + t * outFrame, outFrame), lut);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rows);
        }
    }

    private static void FillTables(ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> lut)
    {
        // 256-entry tables per channel, each value computed in float32 as torch does (x / 255 - mean) / std.
        for (int c = 0; c < 3; c++)
        {
            for (int v = 0; v < 256; v++)
            {
                lut[c * 256 + v] = (v / 255f - mean[c]) / std[c];
            }
        }
    }

    /// <summary>rows × width pixels from <paramref name="source"/> (row stride in bytes) into the three planes at <paramref name="offset"/>.</summary>
    private static void NormalizeFrame(ReadOnlySpan<byte> source, int sourceRow, int width, int rows, bool flip,
        Span<float> destination, int plane, int offset, ReadOnlySpan<float> lut)
    {
        ReadOnlySpan<float> lr = lut[..256];
        ReadOnlySpan<float> lg = lut.Slice(256, 256);
        ReadOnlySpan<float> lb = lut.Slice(512, 256);
        Span<float> r = destination.Slice(offset, rows * width);
        Span<float> g = destination.Slice(plane + offset, rows * width);
        Span<float> b = destination.Slice(2 * plane + offset, rows * width);
        for (int y = 0; y < rows; y++)
        {
            ReadOnlySpan<byte> row = source.Slice(y * sourceRow, width * 3);
            int p = y * width;
            if (flip)
            {
                for (int x = 0, s = (width - 1) * 3; x < width; x++, s -= 3)
                {
                    r[p + x] = lr[row[s]];
                    g[p + x] = lg[row[s + 1]];
                    b[p + x] = lb[row[s + 2]];
                }
            }
            else
            {
                for (int x = 0, s = 0; x < width; x++, s += 3)
                {
                    r[p + x] = lr[row[s]];
                    g[p + x] = lg[row[s + 1]];
                    b[p + x] = lb[row[s + 2]];
                }
            }
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
