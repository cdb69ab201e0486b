namespace VideoSSL.Data.Video;

public enum FrameResizeMode
{
    None = 0,
    Exact = 1,
    ShortSide = 2,
}

/// <summary>
/// How decoded frames are resized (by swscale, bilinear) on their way to RGB24. <c>default</c> keeps the
/// native size; <see cref="ToShortSide"/> keeps the aspect ratio and rounds both sides to even numbers.
/// </summary>
public readonly record struct FrameResize(FrameResizeMode Mode, int Width, int Height)
{
    public static FrameResize None => default;

    public static FrameResize Exact(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        return new FrameResize(FrameResizeMode.Exact, width, height);
    }

    public static FrameResize ToShortSide(int shortSide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shortSide);
        return new FrameResize(FrameResizeMode.ShortSide, shortSide, shortSide);
    }

    public override string ToString() => Mode switch
    {
        FrameResizeMode.Exact => $"{Width}x{Height}",
        FrameResizeMode.ShortSide => $"short side {Width}",
        _ => "native size",
    };
}
