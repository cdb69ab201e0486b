using VideoSSL.Data.Transforms;

namespace VideoSSL.Data.Synthetic;

/// <summary>
/// What storing a clip as 8-bit YUV 4:2:0 and decoding it again does to its pixels, without a codec: BT.601 limited
/// range (libx264's and swscale's default for rgb24 input), chroma averaged over 2 × 2 pixels and upsampled bilinearly
/// by <see cref="BilinearResize"/> (the decoder's swscale runs with SWS_BILINEAR, <see cref="Video.FrameResize"/>).
/// The labeled sets are H.264/VP9 files in yuv420p; a procedural pool rendered in full RGB differs from them mostly by
/// this chroma blur, not by the codec's quantisation (experiments/README.md, seventeenth round).
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
        int h = clip.Height, w = clip.Width, cw = w / 2;
        var luma = new byte[clip.Frames * h * w];
        // Cb and Cr of each 2 x 2 cell in channels 0 and 1 of a half-size clip, so the suite's bilinear resize (half-pixel
        // centres, as swscale places 4:2:0 chroma at the centre of its cell) upsamples them.
        var chroma = new Clip(clip.Frames, h / 2, cw);
        var sums = new double[2 * (h / 2) * cw];
        for (int t = 0; t < clip.Frames; t++)
        {
            ReadOnlySpan<byte> frame = clip.Frame(t);
            Array.Clear(sums);
            for (int i = 0; i < h * w; i++)
            {
                double r = frame[3 * i], g = frame[3 * i + 1], b = frame[3 * i + 2];
                luma[t * h * w + i] = Byte(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
                int cell = 2 * ((i / w / 2 * cw) + (i % w / 2));
                sums[cell] += 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255;
                sums[cell + 1] += 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255;
            }
            Span<byte> half = chroma.Frame(t);
            for (int c = 0; c < sums.Length / 2; c++)
            {
                half[3 * c] = Byte(sums[2 * c] / 4);
                half[3 * c + 1] = Byte(sums[2 * c + 1] / 4);
            }
        }
        byte[] up = BilinearResize.Resize(chroma, w, h).Pixels;
        for (int i = 0; i < luma.Length; i++)
        {
            double l = 1.164383 * (luma[i] - 16), u = up[3 * i] - 128, v = up[3 * i + 1] - 128;
            clip.Pixels[3 * i] = Byte(l + 1.596027 * v);
            clip.Pixels[3 * i + 1] = Byte(l - 0.391762 * u - 0.812968 * v);
            clip.Pixels[3 * i + 2] = Byte(l + 2.017232 * u);
        }
    }

    private static byte Byte(double value) => (byte)Math.Clamp(Math.Round(value), 0, 255);
}
