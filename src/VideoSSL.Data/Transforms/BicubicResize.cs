using System.Buffers;

namespace VideoSSL.Data.Transforms;

/// <summary>
/// torch.nn.functional.interpolate(mode="bicubic", align_corners=False) on uint8 RGB scaled to 0..1, as the
/// official SVT views are resized (kahnchana/svt datasets/transform.py resize). Cubic convolution with A = −0.75,
/// source x = scale · (x' + 0.5) − 0.5 without clamping, taps clamped to the crop's edge (ATen UpSample.h,
/// get_cubic_upsample_coefficients). Output is not clamped: bicubic overshoots slightly, as in torch.
/// </summary>
public static class BicubicResize
{
    private const float A = -0.75f;

    /// <summary>
    /// Resizes <paramref name="box"/> of one packed RGB24 frame to outWidth × outHeight, mirrored when
    /// <paramref name="flip"/>, into three planes of floats in 0..1 (pixel / 255).
    /// </summary>
    public static void CropResizeToPlanes(ReadOnlySpan<byte> frame, int width, int height, CropBox box, int outWidth, int outHeight, bool flip,
        Span<float> red, Span<float> green, Span<float> blue)
    {
        if (box.Left < 0 || box.Top < 0 || box.Width < 1 || box.Height < 1 || box.Left + box.Width > width || box.Top + box.Height > height)
        {
            throw new ArgumentOutOfRangeException(nameof(box), $"crop {box} is not inside the {width}x{height} frame");
        }
        if (frame.Length < width * height * 3)
        {
            throw new ArgumentException($"{frame.Length} bytes do not hold a {width}x{height} frame", nameof(frame));
        }
        int outFrame = outWidth * outHeight;
        if (red.Length != outFrame || green.Length != outFrame || blue.Length != outFrame)
        {
            throw new ArgumentException($"planes must hold {outFrame} floats");
        }
        int[] xIndex = ArrayPool<int>.Shared.Rent(4 * outWidth);
        float[] xWeight = ArrayPool<float>.Shared.Rent(4 * outWidth);
        int[] yIndex = ArrayPool<int>.Shared.Rent(4 * outHeight);
        float[] yWeight = ArrayPool<float>.Shared.Rent(4 * outHeight);
        // Rows of the crop resized along x: [box.Height, outWidth, 3].
        float[] rows = ArrayPool<float>.Shared.Rent(box.Height * outWidth * 3);
        try
        {
            Taps(box.Width, outWidth, xIndex, xWeight);
            Taps(box.Height, outHeight, yIndex, yWeight);
            // frames.float() / 255 as torch computes it, once per byte value.
            Span<float> unit = stackalloc float[256];
            for (int v = 0; v < 256; v++)
            {
                unit[v] = v / 255f;
            }
            for (int y = 0; y < box.Height; y++)
            {
                ReadOnlySpan<byte> row = frame.Slice(((box.Top + y) * width + box.Left) * 3, box.Width * 3);
                Span<float> output = rows.AsSpan(y * outWidth * 3, outWidth * 3);
                for (int x = 0, k = 0, o = 0; x < outWidth; x++, k += 4, o += 3)
                {
                    int i0 = xIndex[k] * 3, i1 = xIndex[k + 1] * 3, i2 = xIndex[k + 2] * 3, i3 = xIndex[k + 3] * 3;
                    float w0 = xWeight[k], w1 = xWeight[k + 1], w2 = xWeight[k + 2], w3 = xWeight[k + 3];
                    output[o] = unit[row[i0]] * w0 + unit[row[i1]] * w1 + unit[row[i2]] * w2 + unit[row[i3]] * w3;
                    output[o + 1] = unit[row[i0 + 1]] * w0 + unit[row[i1 + 1]] * w1 + unit[row[i2 + 1]] * w2 + unit[row[i3 + 1]] * w3;
                    output[o + 2] = unit[row[i0 + 2]] * w0 + unit[row[i1 + 2]] * w1 + unit[row[i2 + 2]] * w2 + unit[row[i3 + 2]] * w3;
                }
            }
            for (int y = 0; y < outHeight; y++)
            {
                int k = 4 * y;
                int rowFloats = outWidth * 3;
                ReadOnlySpan<float> a = rows.AsSpan(yIndex[k] * rowFloats, rowFloats), b = rows.AsSpan(yIndex[k + 1] * rowFloats, rowFloats);
                ReadOnlySpan<float> c = rows.AsSpan(yIndex[k + 2] * rowFloats, rowFloats), d = rows.AsSpan(yIndex[k + 3] * rowFloats, rowFloats);
                float w0 = yWeight[k], w1 = yWeight[k + 1], w2 = yWeight[k + 2], w3 = yWeight[k + 3];
                Span<float> r = red.Slice(y * outWidth, outWidth), g = green.Slice(y * outWidth, outWidth), bl = blue.Slice(y * outWidth, outWidth);
                for (int x = 0, s = 0; x < outWidth; x++, s += 3)
                {
                    int p = flip ? outWidth - 1 - x : x;
                    r[p] = a[s] * w0 + b[s] * w1 + c[s] * w2 + d[s] * w3;
                    g[p] = a[s + 1] * w0 + b[s + 1] * w1 + c[s + 1] * w2 + d[s + 1] * w3;
                    bl[p] = a[s + 2] * w0 + b[s + 2] * w1 + c[s + 2] * w2 + d[s + 2] * w3;
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(xIndex);
            ArrayPool<float>.Shared.Return(xWeight);
            ArrayPool<int>.Shared.Return(yIndex);
            ArrayPool<float>.Shared.Return(yWeight);
            ArrayPool<float>.Shared.Return(rows);
        }
    }

    /// <summary>The four source indices (clamped) and weights of each output position along one axis.</summary>
    private static void Taps(int inSize, int outSize, int[] index, float[] weight)
    {
        float scale = (float)inSize / outSize;
        for (int o = 0; o < outSize; o++)
        {
            float real = (float)(scale * (o + 0.5) - 0.5);
            int i = (int)MathF.Floor(real);
            float t = real - i;
            weight[4 * o] = Convolution2(t + 1f);
            weight[4 * o + 1] = Convolution1(t);
            weight[4 * o + 2] = Convolution1(1f - t);
            weight[4 * o + 3] = Convolution2(2f - t);
            for (int j = 0; j < 4; j++)
            {
                index[4 * o + j] = Math.Clamp(i - 1 + j, 0, inSize - 1);
            }
        }
    }

    // |x| <= 1
    private static float Convolution1(float x) => ((A + 2) * x - (A + 3)) * x * x + 1;

    // 1 < |x| < 2
    private static float Convolution2(float x) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}
