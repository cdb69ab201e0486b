namespace VideoSSL.Data.Video;

/// <summary>Numbered as vav_status in native/av/videossl_av.h.</summary>
public enum VideoError
{
    None = 0,
    InvalidArgument = 1,
    NotFound = 2,
    /// <summary>Unreadable, empty, truncated or not a media file.</summary>
    InvalidData = 3,
    /// <summary>A media file without a video stream, such as audio only.</summary>
    NoVideoStream = 4,
    UnsupportedCodec = 5,
    /// <summary>The stream opened but decoding or seeking failed.</summary>
    DecodeFailed = 6,
    OutOfMemory = 7,
}

/// <summary>A video that cannot be opened or decoded; the message names the file.</summary>
public sealed class VideoDecodeException : Exception
{
    public VideoDecodeException(string path, VideoError error, string detail)
        : base($"{path}: {Describe(error)}: {detail}")
    {
        Path = path;
        Error = error;
    }

    public VideoDecodeException()
    {
        Path = "";
    }

    public VideoDecodeException(string message)
        : base(message)
    {
        Path = "";
    }

    public VideoDecodeException(string message, Exception innerException)
        : base(message, innerException)
    {
        Path = "";
    }

    public string Path { get; }

    public VideoError Error { get; }

    private static string Describe(VideoError error) => error switch
    {
        VideoError.NotFound => "video not found",
        VideoError.InvalidData => "not a readable video",
        VideoError.NoVideoStream => "no video stream",
        VideoError.UnsupportedCodec => "unsupported video codec",
        VideoError.DecodeFailed => "decoding failed",
        VideoError.OutOfMemory => "out of memory",
        VideoError.InvalidArgument => "invalid argument",
        _ => $"error {(int)error}",
    };
}
