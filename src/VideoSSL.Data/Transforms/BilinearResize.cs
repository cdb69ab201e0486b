using System.Buffers;
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
        var plan = new Plan(source.Width, source.Height, new CropBox(left, top, width, height), outWidth, outHeight);
        var output = new Clip(source.Frames, outHeight, outWidth);
        int[] rows = ArrayPool<int>.Shared.Rent(plan.RowsLength);
        try
        {
            for (int t = 0; t < source.Frames; t++)
            {
                plan.ResizeFrame(source.Frame(t), rows, output.Frame(t));
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rows);
        }
        return output;
    }

    /// <summary>
    /// One region → output-size mapping, computed once and applied frame by frame, so callers can resize into
    /// buffers they own (the loader writes each frame straight into its batch without an intermediate clip).
    /// </summary>
    public sealed class Plan
    {
        private readonly int[] _x0;
        private readonly int[] _x1;
        private readonly int[] _wx;
        private readonly int[] _y0;
        private readonly int[] _y1;
        private readonly int[] _wy;
        private readonly int _left;
        private readonly int _regionRow;
        private readonly int _srcRow;
        private readonly int _srcFrame;

        public Plan(int sourceWidth, int sourceHeight, CropBox region, int outWidth, int outHeight)
        {
            if (region.Left < 0 || region.Top < 0 || region.Width < 1 || region.Height < 1
                || region.Left + region.Width > sourceWidth || region.Top + region.Height > sourceHeight)
            {
                throw new ArgumentOutOfRangeException(nameof(region),
                    $"region x={region.Left} y={region.Top} {region.Width}x{region.Height} is not inside the {sourceWidth}x{sourceHeight} clip");
            }
            if (outWidth < 1 || outHeight < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(outWidth), $"output size {outWidth}x{outHeight} must be positive");
            }
            OutWidth = outWidth;
            OutHeight = outHeight;
            (_x0, _x1, _wx) = Axis(0, region.Width, outWidth);
            (_y0, _y1, _wy) = Axis(region.Top, region.Height, outHeight);
            for (int o = 0; o < outWidth; o++)
            {
                _x0[o] *= 3;
                _x1[o] *= 3;
            }
            _left = region.Left;
            _regionRow = region.Width * 3;
            _srcRow = sourceWidth * 3;
            _srcFrame = _srcRow * sourceHeight;
        }

        public int OutWidth { get; }

        public int OutHeight { get; }

        /// <summary>Ints of scratch <see cref="ResizeFrame"/> needs.</summary>
        public int RowsLength => OutHeight * _regionRow;

        /// <summary>Resizes one packed RGB24 source frame into <paramref name="destination"/> (OutHeight · OutWidth · 3 bytes).</summary>
        public void ResizeFrame(ReadOnlySpan<byte> frame, Span<int> rows, Span<byte> destination)
        {
            if (frame.Length < _srcFrame || rows.Length < RowsLength || destination.Length < OutHeight * OutWidth * 3)
            {
                throw new ArgumentException("frame, scratch or destination is smaller than the plan needs");
            }
            int outRow = OutWidth * 3;
            int regionRow = _regionRow;
            // Vertical pass first: it reads whole rows, so it vectorises, and it leaves only outHeight rows for the
            // scalar horizontal pass. No rounding happens between the passes, so the result equals horizontal-first.
            for (int o = 0; o < OutHeight; o++)
            {
                ReadOnlySpan<byte> ra = frame.Slice(_y0[o] * _srcRow + _left * 3, regionRow);
                ReadOnlySpan<byte> rb = frame.Slice(_y1[o] * _srcRow + _left * 3, regionRow);
                VerticalRow(ra, rb, One - _wy[o], _wy[o], rows.Slice(o * regionRow, regionRow));
            }
            int[] x0 = _x0;
            int[] x1 = _x1;
            int[] wx = _wx;
            for (int o = 0; o < OutHeight; o++)
            {
                ReadOnlySpan<int> src = rows.Slice(o * regionRow, regionRow);
                Span<byte> dst = destination.Slice(o * outRow, outRow);
                for (int x = 0; x < x0.Length; x++)
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

        /// <summary>
        /// <see cref="ResizeFrame"/> followed by a per-channel lookup (uint8 value → float), written to three
        /// planes, optionally mirrored: the horizontal pass and the normalisation in one sweep over the output.
        /// </summary>
        public void ResizeFrameToPlanes(ReadOnlySpan<byte> frame, Span<int> rows, bool flip,
            Span<float> red, Span<float> green, Span<float> blue, ReadOnlySpan<float> lut)
        {
            int pixels = OutHeight * OutWidth;
            if (frame.Length < _srcFrame || rows.Length < RowsLength || red.Length < pixels || green.Length < pixels
                || blue.Length < pixels || lut.Length < 3 * 256)
            {
                throw new ArgumentException("frame, scratch, planes or tables are smaller than the plan needs");
            }
            int regionRow = _regionRow;
            for (int o = 0; o < OutHeight; o++)
            {
                ReadOnlySpan<byte> ra = frame.Slice(_y0[o] * _srcRow + _left * 3, regionRow);
                ReadOnlySpan<byte> rb = frame.Slice(_y1[o] * _srcRow + _left * 3, regionRow);
                VerticalRow(ra, rb, One - _wy[o], _wy[o], rows.Slice(o * regionRow, regionRow));
            }
            ReadOnlySpan<float> lr = lut[..256];
            ReadOnlySpan<float> lg = lut.Slice(256, 256);
            ReadOnlySpan<float> lb = lut.Slice(512, 256);
            int[] x0 = _x0;
            int[] x1 = _x1;
            int[] wx = _wx;
            int width = OutWidth;
            for (int o = 0; o < OutHeight; o++)
            {
                ReadOnlySpan<int> src = rows.Slice(o * regionRow, regionRow);
                Span<float> r = red.Slice(o * width, width);
                Span<float> g = green.Slice(o * width, width);
                Span<float> b = blue.Slice(o * width, width);
                for (int x = 0; x < width; x++)
                {
                    int a = x0[x];
                    int c = x1[x];
                    int w1 = wx[x];
                    int w0 = One - w1;
                    int d = flip ? width - 1 - x : x;
                    r[d] = lr[(src[a] * w0 + src[c] * w1 + Round) >> Shift];
                    g[d] = lg[(src[a + 1] * w0 + src[c + 1] * w1 + Round) >> Shift];
                    b[d] = lb[(src[a + 2] * w0 + src[c + 2] * w1 + Round) >> Shift];
                }
            }
        }
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
