using System.Runtime.InteropServices;
using System.Text;
using VideoSSL.Data;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Video;

namespace VideoSSL.Tests.Video;

/// <summary>
/// The conversion to RGB24 at sizes where swscale's SIMD path overshoots the row: widths of 8 mod 16 (it wrote 8 pixels
/// past each row, so past the caller's buffer: the loader's heap corruption) and widths that are not a multiple of 8
/// (it left the last columns unwritten).
/// </summary>
public sealed unsafe class RgbConversionTests : IDisposable
{
    private const int Height = 32;
    private const int Frames = 12;

    private readonly string _dir = Directory.CreateTempSubdirectory("vssl-rgb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Left half black, right half white: the pixels just past a row's end are white, its first ones black.</summary>
    private string HalfWhite(int width, VideoCodec codec = VideoCodec.H264Mp4)
    {
        var clip = new Clip(Frames, Height, width);
        for (int t = 0; t < Frames; t++)
        {
            Span<byte> frame = clip.Frame(t);
            for (int y = 0; y < Height; y++)
            {
                frame.Slice(((y * width) + (width / 2)) * 3, (width - (width / 2)) * 3).Fill(255);
            }
        }
        string path = Path.Combine(_dir, codec == VideoCodec.H264Mp4 ? $"w{width}.mp4" : $"w{width}.webm");
        FfmpegEncoder.Encode(clip, 8, path, codec);
        return path;
    }

    [Theory]
    [InlineData(40, VideoCodec.H264Mp4)]
    [InlineData(56, VideoCodec.H264Mp4)]
    [InlineData(100, VideoCodec.H264Mp4)]
    [InlineData(40, VideoCodec.Vp9Webm)]
    public void Read_writes_nothing_past_the_buffer_it_is_given(int width, VideoCodec codec)
    {
        string path = HalfWhite(width, codec);
        VideoReader.Open(path).Dispose();  // resolves libvideossl_av.so as the product does
        nint library = NativeLibrary.Load(LoadedLibraryPath());
        var open = (delegate* unmanaged<byte*, int, nint*, int>)NativeLibrary.GetExport(library, "vav_open");
        var read = (delegate* unmanaged<nint, int*, int*, int, int, int, int, byte*, long, int>)NativeLibrary.GetExport(library, "vav_read");
        var close = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(library, "vav_close");

        const int Canary = 4096;
        int frameBytes = width * Height * 3;
        var buffer = new byte[(2 * frameBytes) + Canary];
        buffer.AsSpan().Fill(0xAB);
        byte[] utf8 = Encoding.UTF8.GetBytes(path + "\0");
        nint reader;
        fixed (byte* pPath = utf8)
        {
            Assert.Equal(0, open(pPath, 1, &reader));
        }
        try
        {
            int[] indices = [3, 7];
            fixed (int* pIndices = indices)
            fixed (byte* pOut = buffer)
            {
                Assert.Equal(0, read(reader, pIndices, null, 2, 0, 0, 0, pOut, 2 * frameBytes));
            }
        }
        finally
        {
            close(reader);
        }
        int past = buffer.AsSpan(2 * frameBytes).IndexOfAnyExcept((byte)0xAB);
        Assert.True(past < 0, $"vav_read of {width}x{Height} frames wrote into byte {past} past the end of its buffer");
    }

    [Theory]
    [InlineData(40)]
    [InlineData(72)]
    public void Frames_read_out_of_order_equal_the_same_frames_read_alone(int width)
    {
        string path = HalfWhite(width);
        Clip both, first, second;
        using (var reader = VideoReader.Open(path))
        {
            both = reader.Read([9, 2]);  // frame 2 lands in slot 1 first, frame 9 is converted into slot 0 after it
        }
        using (var reader = VideoReader.Open(path))
        {
            first = reader.Read([9]);
        }
        using (var reader = VideoReader.Open(path))
        {
            second = reader.Read([2]);
        }
        Assert.True(both.Frame(0).SequenceEqual(first.Frame(0)), "frame 9 differs");
        Assert.True(both.Frame(1).SequenceEqual(second.Frame(0)), "frame 2 differs: the conversion of frame 9 ran over it");
    }

    [Theory]
    [InlineData(40, VideoCodec.H264Mp4)]
    [InlineData(100, VideoCodec.H264Mp4)]
    [InlineData(102, VideoCodec.H264Mp4)]
    [InlineData(100, VideoCodec.Vp9Webm)]
    public void Every_pixel_is_written_whatever_the_buffer_held(int width, VideoCodec codec)
    {
        string path = HalfWhite(width, codec);
        using var reader = VideoReader.Open(path);
        var zeros = new Clip(1, Height, width);
        var ones = new Clip(1, Height, width);
        ones.Pixels.AsSpan().Fill(255);
        Assert.Same(zeros, reader.Read([5], reuse: zeros));
        Assert.Same(ones, reader.Read([5], reuse: ones));
        int differs = zeros.Pixels.AsSpan().CommonPrefixLength(ones.Pixels);
        Assert.True(differs == zeros.Pixels.Length, $"pixel ({differs / 3 % width}, {differs / 3 / width}) of a {width}-wide frame was left as the buffer held it");
        // And the values are the picture: black left, white right (lossy coding moves them a little).
        Assert.InRange((int)zeros.Pixels[0], 0, 40);
        Assert.InRange((int)zeros.Pixels[(width - 1) * 3], 215, 255);
    }

    private static string LoadedLibraryPath() =>
        File.ReadLines("/proc/self/maps").Select(line => line[(line.IndexOf('/') is var i && i >= 0 ? i : line.Length)..])
            .First(p => p.EndsWith("/libvideossl_av.so", StringComparison.Ordinal));
}
