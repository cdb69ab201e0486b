namespace VideoSSL.Data.Transforms;

/// <summary>
/// Bilinear resize of a region of a uint8 clip, half-pixel centres (align_corners=False, like
/// torch.nn.functional.interpolate and OpenCV), no antialiasing. Separable, in 11-bit fixed point with
/// per-axis tables computed once per call, so a constant image stays exactly constant and a same-size
/// resize is the identity.
/// </summary>
public static class BilinearResize
{
    private const int Bits = 11;
    private const int One = 1 << Bits;
    private const int Shift = 2 * Bits;
    private const int Round = 1 << (Shift - 1);

    public static Clip Resize(Clip source, int outWidth, int outHeight) => ResizeRegion(source, 0, 0, source.Width, source.Height, outWidth, outHeight);

    /// <summary>Crops [left, left + width) × [top, top + height) and resizes it to outWidth × outHeight in one pass.</summary>
    public static Clip ResizeRegion(Clip source, int left, int top, int width, int height, int outWidth, int outHeight)
    {
        if (left < 0 || top < 0 || width < 1 || height < 1 || left + width > source.Width || top + height > source.Height)
        {
            throw new ArgumentOutOfRangeException(nameof(left),
                $"region x={left} y={top} {width}x{height} is not inside the {source.Width}x{source.Height} clip");
        }
        if (outWidth < 1 || outHeight < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(outWidth), $"output size {outWidth}x{outHeight} must be positive");
        }
        var output = new Clip(source.Frames, outHeight, outWidth);
        (int[] x0, int[] x1, int[] wx) = Axis(left, width, outWidth);
        (int[] y0, int[] y1, int[] wy) = Axis(top, height, outHeight);
        for (int o = 0; o < outWidth; o++)
        {
            x0[o] *= 3;
            x1[o] *= 3;
        }
        int outRow = outWidth * 3;
        // Horizontal pass of every source row of the region, then the vertical pass reads two of them.
        var rows = new int[height * outRow];
        int srcRow = source.Width * 3;
        for (int t = 0; t < source.Frames; t++)
        {
            ReadOnlySpan<byte> frame = source.Frame(t);
            for (int r = 0; r < height; r++)
            {
                ReadOnlySpan<byte> src = frame.Slice((top + r) * srcRow, srcRow);
                Span<int> dst = rows.AsSpan(r * outRow, outRow);
                for (int o = 0; o < outWidth; o++)
                {
                    int a = x0[o];
                    int b = x1[o];
                    int w1 = wx[o];
                    int w0 = One - w1;
                    int d = o * 3;
                    dst[d] = src[a] * w0 + src[b] * w1;
                    dst[d + 1] = src[a + 1] * w0 + src[b + 1] * w1;
                    dst[d + 2] = src[a + 2] * w0 + src[b + 2] * w1;
                }
            }
            Span<byte> outFrame = output.Frame(t);
            for (int o = 0; o < outHeight; o++)
            {
                ReadOnlySpan<int> ra = rows.AsSpan((y0[o] - top) * outRow, outRow);
                ReadOnlySpan<int> rb = rows.AsSpan((y1[o] - top) * outRow, outRow);
                Span<byte> dst = outFrame.Slice(o * outRow, outRow);
                int w1 = wy[o];
                int w0 = One - w1;
                for (int i = 0; i < outRow; i++)
                {
                    dst[i] = (byte)((ra[i] * w0 + rb[i] * w1 + Round) >> Shift);
                }
            }
        }
        return output;
    }

    /// <summary>
    /// For each output position: the two absolute source positions and the fixed-point weight of the second.
    /// </summary>
    private static (int[] First, int[] Second, int[] Weight) Axis(int start, int size, int outSize)
    {
        var first = new int[outSize];
        var second = new int[outSize];
        var weight = new int[outSize];
        double scale = (double)size / outSize;
        for (int o = 0; o < outSize; o++)
        {
            double s = Math.Max((o + 0.5) * scale - 0.5, 0);
            int i0 = Math.Min((int)s, size - 1);
            int i1 = Math.Min(i0 + 1, size - 1);
            int w = (int)Math.Round((s - i0) * One);
            if (i1 == i0)
            {
                w = 0;
            }
            first[o] = start + i0;
            second[o] = start + i1;
            weight[o] = Math.Clamp(w, 0, One);
        }
        return (first, second, weight);
    }
}
