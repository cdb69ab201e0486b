namespace VideoSSL.Data.Video;

/// <summary>
/// What the container says about the video stream. <see cref="FrameCount"/> is exact when the container's
/// count agrees with duration × fps (mp4) or was counted; otherwise (webm) it is derived from duration × fps
/// and may be off by a frame or two: reads past the real end return the last frame.
/// </summary>
public sealed record VideoInfo(int Width, int Height, long FrameCount, bool FrameCountExact, double Fps, double DurationSeconds, string Codec);
