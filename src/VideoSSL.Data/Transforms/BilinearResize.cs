using System.Numerics;

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
        (int[] x0, int[] x1, int[] wx) = Axis(0, width, outWidth);
        (int[] y0, int[] y1, int[] wy) = Axis(top, height, outHeight);
        for (int o = 0; o < outWidth; o++)
        {
            x0[o] *= 3;
            x1[o] *= 3;
        }
        int outRow = outWidth * 3;
        int regionRow = width * 3;
        // Vertical pass first: it reads whole rows, so it vectorises, and it leaves only outHeight rows for the
        // scalar horizontal pass. No rounding happens between the passes, so the result equals horizontal-first.
        var rows = new int[outHeight * regionRow];
        int srcRow = source.Width * 3;
        for (int t = 0; t < source.Frames; t++)
        {
            ReadOnlySpan<byte> frame = source.Frame(t);
            for (int o = 0; o < outHeight; o++)
            {
                ReadOnlySpan<byte> ra = frame.Slice(y0[o] * srcRow + left * 3, regionRow);
                ReadOnlySpan<byte> rb = frame.Slice(y1[o] * srcRow + left * 3, regionRow);
                VerticalRow(ra, rb, One - wy[o], wy[o], rows.AsSpan(o * regionRow, regionRow));
            }
            Span<byte> outFrame = output.Frame(t);
            for (int o = 0; o < outHeight; o++)
            {
                ReadOnlySpan<int> src = rows.AsSpan(o * regionRow, regionRow);
                Span<byte> dst = outFrame.Slice(o * outRow, outRow);
                for (int x = 0; x < outWidth; x++)
                {
                    int a = x0[x];
                    int b = x1[x];
                    int w1 = wx[x];
                    int w0 = One - w1;
                    int d = x * 3;
                    dst[d] = (byte)((src[a] * w0 + src[b] * w1 + Round) >> Shift);
                    dst[d + 1] = (byte)((src[a + 1] * w0 + src[b + 1] * w1 + Round) >> Shift);
                    dst[d + 2] = (byte)((src[a + 2] * w0 + src[b + 2] * w1 + Round) >> Shift);
                }
            }
        }
        return output;
    }

    /// <summary>dst[i] = a[i]·w0 + b[i]·w1, widened to int.</summary>
    private static void VerticalRow(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, int w0, int w1, Span<int> dst)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<byte>.Count)
        {
            var v0 = new Vector<int>(w0);
            var v1 = new Vector<int>(w1);
            int step = Vector<byte>.Count;
            for (; i <= a.Length - step; i += step)
            {
                Vector.Widen(new Vector<byte>(a[i..]), out Vector<ushort> al, out Vector<ushort> ah);
                Vector.Widen(new Vector<byte>(b[i..]), out Vector<ushort> bl, out Vector<ushort> bh);
                Vector.Widen(al, out Vector<uint> a0, out Vector<uint> a1);
                Vector.Widen(ah, out Vector<uint> a2, out Vector<uint> a3);
                Vector.Widen(bl, out Vector<uint> b0, out Vector<uint> b1);
                Vector.Widen(bh, out Vector<uint> b2, out Vector<uint> b3);
                int n = Vector<int>.Count;
                (Vector.AsVectorInt32(a0) * v0 + Vector.AsVectorInt32(b0) * v1).CopyTo(dst[i..]);
                (Vector.AsVectorInt32(a1) * v0 + Vector.AsVectorInt32(b1) * v1).CopyTo(dst[(i + n)..]);
                (Vector.AsVectorInt32(a2) * v0 + Vector.AsVectorInt32(b2) * v1).CopyTo(dst[(i + 2 * n)..]);
                (Vector.AsVectorInt32(a3) * v0 + Vector.AsVectorInt32(b3) * v1).CopyTo(dst[(i + 3 * n)..]);
            }
        }
        for (; i < a.Length; i++)
        {
            dst[i] = a[i] * w0 + b[i] * w1;
        }
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
