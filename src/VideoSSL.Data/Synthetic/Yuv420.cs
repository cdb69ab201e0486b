namespace VideoSSL.Data.Synthetic;

/// <summary>
/// What storing a clip as 8-bit YUV 4:2:0 and decoding it again does to its pixels, without a codec: BT.601 limited
/// range (libx264's and swscale's default for rgb24 input), chroma averaged over 2 × 2 pixels and upsampled bilinearly
/// (the decoder's swscale runs with SWS_BILINEAR, <see cref="Video.FrameResize"/>). The labeled sets are H.264/VP9
/// files in yuv420p; a procedural pool rendered in full RGB differs from them mostly by this chroma blur, not by the
/// codec's quantisation (experiments/README.md, seventeenth round).
/// </summary>
public static class Yuv420
{
    /// <summary>Replaces every frame of <paramref name="clip"/> by its 4:2:0 round trip, in place; sides must be even.</summary>
    public static void RoundTrip(Clip clip)
    {
        if (clip.Width % 2 != 0 || clip.Height % 2 != 0)
        {
            throw new ArgumentException($"frame size {clip.Width}x{clip.Height} must be even for 4:2:0 chroma");
        }
        int h = clip.Height, w = clip.Width, ch = h / 2, cw = w / 2;
        var y = new byte[h * w];
        var cb = new double[h * w];
        var cr = new double[h * w];
        var cbHalf = new byte[ch * cw];
        var crHalf = new byte[ch * cw];
        for (int t = 0; t < clip.Frames; t++)
        {
            Span<byte> frame = clip.Frame(t);
            for (int i = 0; i < h * w; i++)
            {
                double r = frame[3 * i], g = frame[3 * i + 1], b = frame[3 * i + 2];
                y[i] = Byte(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
                cb[i] = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255;
                cr[i] = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255;
            }
            for (int i = 0; i < ch; i++)
            {
                for (int j = 0; j < cw; j++)
                {
                    int p = 2 * i * w + 2 * j;
                    cbHalf[i * cw + j] = Byte((cb[p] + cb[p + 1] + cb[p + w] + cb[p + w + 1]) / 4);
                    crHalf[i * cw + j] = Byte((cr[p] + cr[p + 1] + cr[p + w] + cr[p + w + 1]) / 4);
                }
            }
            for (int row = 0; row < h; row++)
            {
                // A chroma sample sits at the centre of its 2 x 2 luma cell: luma coordinate x is chroma coordinate (x - 0.5) / 2.
                (int r0, int r1, double fr) = Taps((row - 0.5) / 2, ch);
                for (int col = 0; col < w; col++)
                {
                    (int c0, int c1, double fc) = Taps((col - 0.5) / 2, cw);
                    double u = Bilinear(cbHalf, cw, r0, r1, fr, c0, c1, fc) - 128;
                    double v = Bilinear(crHalf, cw, r0, r1, fr, c0, c1, fc) - 128;
                    double l = 1.164383 * (y[row * w + col] - 16);
                    int o = 3 * (row * w + col);
                    frame[o] = Byte(l + 1.596027 * v);
                    frame[o + 1] = Byte(l - 0.391762 * u - 0.812968 * v);
                    frame[o + 2] = Byte(l + 2.017232 * u);
                }
            }
        }
    }

    private static (int Lo, int Hi, double Frac) Taps(double x, int n)
    {
        x = Math.Clamp(x, 0, n - 1);
        int lo = (int)Math.Floor(x);
        return (lo, Math.Min(lo + 1, n - 1), x - lo);
    }

    private static double Bilinear(byte[] plane, int stride, int r0, int r1, double fr, int c0, int c1, double fc)
    {
        double top = plane[r0 * stride + c0] * (1 - fc) + plane[r0 * stride + c1] * fc;
        double bottom = plane[r1 * stride + c0] * (1 - fc) + plane[r1 * stride + c1] * fc;
        return top * (1 - fr) + bottom * fr;
    }

    private static byte Byte(double value) => (byte)Math.Clamp(Math.Round(value), 0, 255);
}
