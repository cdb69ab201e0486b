using System.ComponentModel;
using System.Diagnostics;
using VideoSSL.Data;

namespace VideoSSL.Tests.Video;

/// <summary>
/// Tiny videos made with the ffmpeg CLI, each frame carrying its own index as a 4x3 grid of black/white
/// 16-px blocks (6 index bits, then their complements) that survives lossy coding at any resize.
/// </summary>
public sealed class TestVideos : IDisposable
{
    public const int Width = 64;
    public const int Height = 48;
    public const int FrameCount = 50;
    public const int Fps = 25;
    public const int Gop = 10;

    public TestVideos()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("videossl-video-tests-").FullName;
        try
        {
            Generate();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Directory { get; }

    public string H264 => Path.Combine(Directory, "h264.mp4");
    public string Vp9 => Path.Combine(Directory, "vp9.webm");
    public string Mpeg4 => Path.Combine(Directory, "mpeg4.mp4");
    public string AudioOnly => Path.Combine(Directory, "sine.m4a");
    public string TruncatedMp4 => Path.Combine(Directory, "truncated.mp4");
    public string TruncatedWebm => Path.Combine(Directory, "truncated.webm");
    public string Empty => Path.Combine(Directory, "empty.mp4");
    public string RandomBytes => Path.Combine(Directory, "random.mp4");
    public string UnknownCodec => Path.Combine(Directory, "unknown-codec.avi");
    public string Missing => Path.Combine(Directory, "missing.mp4");

    public string this[string name] => Path.Combine(Directory, name);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private void Generate()
    {
        var raw = new byte[FrameCount * Width * Height * 3];
        for (var i = 0; i < FrameCount; i++)
        {
            DrawIndex(raw.AsSpan(i * Width * Height * 3, Width * Height * 3), i);
        }
        string[] rawInput = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{Width}x{Height}", "-r", $"{Fps}", "-i", "-"];
        string[] gop = ["-g", $"{Gop}", "-keyint_min", $"{Gop}"];
        Ffmpeg([.. rawInput, "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-sc_threshold", "0", .. gop, "-crf", "12",
            "-pix_fmt", "yuv420p", H264], raw);
        Ffmpeg([.. rawInput, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-crf", "10", "-b:v", "0", .. gop,
            "-pix_fmt", "yuv420p", Vp9], raw);
        Ffmpeg([.. rawInput, "-c:v", "mpeg4", "-q:v", "2", "-bf", "2", .. gop, Mpeg4], raw);
        Ffmpeg([.. rawInput, "-c:v", "mpeg4", "-q:v", "2", .. gop, Path.Combine(Directory, "fmp4.avi")], raw);
        Ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", AudioOnly], null);

        // ffmpeg's mp4 muxer writes the index (moov) last, so the first half holds no index at all.
        var mp4 = File.ReadAllBytes(H264);
        File.WriteAllBytes(TruncatedMp4, mp4[..(mp4.Length / 2)]);
        var webm = File.ReadAllBytes(Vp9);
        File.WriteAllBytes(TruncatedWebm, webm[..(webm.Length / 2)]);
        File.WriteAllBytes(Empty, []);
        var random = new byte[8192];
        new Random(1234).NextBytes(random);
        File.WriteAllBytes(RandomBytes, random);
        // An AVI whose FourCC names no codec libavcodec knows.
        var avi = File.ReadAllBytes(Path.Combine(Directory, "fmp4.avi"));
        var replaced = ReplaceAll(avi, "FMP4"u8, "QQQQ"u8);
        Assert.True(replaced > 0, "the mpeg4 avi carries no FMP4 FourCC to replace");
        File.WriteAllBytes(UnknownCodec, avi);
    }

    public static void DrawIndex(Span<byte> frame, int index)
    {
        for (var y = 0; y < Height; y++)
        {
            for (var x = 0; x < Width; x++)
            {
                var on = BlockBit(index, (y / 16 * 4) + (x / 16));
                frame.Slice(((y * Width) + x) * 3, 3).Fill(on ? (byte)255 : (byte)0);
            }
        }
    }

    /// <summary>The index drawn into frame t of the clip, or -1 when the pattern is not a valid one.</summary>
    public static int ReadIndex(Clip clip, int t)
    {
        var frame = clip.Frame(t);
        var index = 0;
        for (var block = 0; block < 12; block++)
        {
            // Average the middle half of the block, wherever resizing put it.
            int bx = block % 4, by = block / 4;
            int x0 = ((4 * bx) + 1) * clip.Width / 16, x1 = ((4 * bx) + 3) * clip.Width / 16;
            int y0 = ((4 * by) + 1) * clip.Height / 12, y1 = ((4 * by) + 3) * clip.Height / 12;
            long sum = 0, n = 0;
            for (var y = y0; y < y1; y++)
            {
                for (var x = x0; x < x1; x++)
                {
                    var p = ((y * clip.Width) + x) * 3;
                    sum += frame[p] + frame[p + 1] + frame[p + 2];
                    n += 3;
                }
            }
            var on = sum > n * 128;
            if (block < 6)
            {
                index |= on ? 1 << block : 0;
            }
            else if (on != BlockBit(index, block))
            {
                return -1;
            }
        }
        return index;
    }

    private static bool BlockBit(int index, int block) => block < 6 ? ((index >> block) & 1) == 1 : ((index >> (block - 6)) & 1) == 0;

    private static int ReplaceAll(byte[] data, ReadOnlySpan<byte> from, ReadOnlySpan<byte> to)
    {
        var count = 0;
        for (var i = data.AsSpan().IndexOf(from); i >= 0;)
        {
            to.CopyTo(data.AsSpan(i));
            count++;
            var next = data.AsSpan(i + from.Length).IndexOf(from);
            i = next < 0 ? -1 : i + from.Length + next;
        }
        return count;
    }

    private static void Ffmpeg(string[] args, byte[]? stdin)
    {
        var start = new ProcessStartInfo("ffmpeg")
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["-hide_banner", "-loglevel", "error", "-y", .. args])
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                "the ffmpeg CLI is not on PATH: the Video tests generate their videos with it. "
                + "It is a declared dependency: run `native/build.sh av` as root (or apt-get install ffmpeg).", e);
        }
        using (process)
        {
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEndAsync();
            if (stdin != null)
            {
                process.StandardInput.BaseStream.Write(stdin);
            }
            process.StandardInput.Close();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"ffmpeg {string.Join(' ', args)} failed ({process.ExitCode}): {error.Result}");
            }
            _ = output.Result;
        }
    }
}
