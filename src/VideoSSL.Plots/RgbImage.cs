namespace VideoSSL.Plots;

/// <summary>An 8-bit RGB image laid out [Height, Width, 3], as video frames are decoded.</summary>
public sealed class RgbImage
{
    public RgbImage(byte[] pixels, int width, int height)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive");
        }
        if (pixels.Length != (long)width * height * 3)
        {
            throw new ArgumentException($"image buffer holds {pixels.Length} bytes, expected {height}x{width}x3 = {(long)width * height * 3}", nameof(pixels));
        }
        Pixels = pixels;
        Width = width;
        Height = height;
    }

    public byte[] Pixels { get; }
    public int Width { get; }
    public int Height { get; }

    /// <summary>
    /// Converts float pixels [Height, Width, 3] to bytes, mapping [min, max] to [0, 255] and clamping outside it;
    /// NaN becomes magenta so a broken reconstruction is visible rather than silently black.
    /// </summary>
    public static RgbImage FromFloats(ReadOnlySpan<float> hwc, int width, int height, float min = 0, float max = 1)
    {
        if (hwc.Length != (long)width * height * 3)
        {
            throw new ArgumentException($"float image holds {hwc.Length} values, expected {height}x{width}x3", nameof(hwc));
        }
        if (!(max > min))
        {
            throw new ArgumentOutOfRangeException(nameof(max), $"value range [{min}, {max}] is empty");
        }
        var pixels = new byte[hwc.Length];
        for (var i = 0; i < hwc.Length; i += 3)
        {
            if (float.IsNaN(hwc[i]) || float.IsNaN(hwc[i + 1]) || float.IsNaN(hwc[i + 2]))
            {
                (pixels[i], pixels[i + 1], pixels[i + 2]) = ((byte)255, (byte)0, (byte)255);
                continue;
            }
            for (var c = 0; c < 3; c++)
            {
                pixels[i + c] = (byte)Math.Round(Math.Clamp((hwc[i + c] - min) / (max - min), 0f, 1f) * 255f);
            }
        }
        return new RgbImage(pixels, width, height);
    }
}
