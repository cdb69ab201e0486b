namespace VideoSSL.Data;

/// <summary>
/// Decoded frames of one clip as packed RGB24, laid out [Frames, Height, Width, 3].
/// Transforms work on this uint8 form so a clip is converted to float only once, at the end.
/// </summary>
public sealed class Clip
{
    public Clip(int frames, int height, int width, byte[]? pixels = null)
    {
        if (frames <= 0 || height <= 0 || width <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(frames), $"clip size {frames}x{height}x{width} must be positive");
        }
        Frames = frames;
        Height = height;
        Width = width;
        Pixels = pixels ?? new byte[checked(frames * height * width * 3)];
        if (Pixels.Length != frames * height * width * 3)
        {
            throw new ArgumentException($"pixel buffer holds {Pixels.Length} bytes, expected {frames * height * width * 3}", nameof(pixels));
        }
    }

    public int Frames { get; }
    public int Height { get; }
    public int Width { get; }
    public byte[] Pixels { get; }

    public int FrameStride => Height * Width * 3;

    public Span<byte> Frame(int t) => Pixels.AsSpan(t * FrameStride, FrameStride);
}
