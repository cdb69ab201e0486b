using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace VideoSSL.Data.Synthetic;

public enum VideoCodec
{
    /// <summary>H.264 in mp4, as Kinetics copies are stored.</summary>
    H264Mp4,

    /// <summary>VP9 in webm, as Something-Something v2 is distributed.</summary>
    Vp9Webm,
}

/// <summary>Encodes a clip by piping raw RGB24 frames to the ffmpeg command-line tool.</summary>
public static class FfmpegEncoder
{
    /// <summary>Writes <paramref name="clip"/> to <paramref name="path"/> (atomically, through a temporary file).</summary>
    public static void Encode(Clip clip, int fps, string path, VideoCodec codec, string ffmpeg = "ffmpeg")
    {
        if (clip.Width % 2 != 0 || clip.Height % 2 != 0)
        {
            // yuv420p halves both chroma axes; odd sizes are rejected by the encoders.
            throw new ArgumentException($"frame size {clip.Width}x{clip.Height} must be even for yuv420p");
        }
        string temp = AtomicFile.TempPath(path);
        string size = string.Create(CultureInfo.InvariantCulture, $"{clip.Width}x{clip.Height}");
        var args = new List<string>
        {
            "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", fps.ToString(CultureInfo.InvariantCulture), "-i", "-",
        };
        args.AddRange(codec == VideoCodec.H264Mp4
            ? ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-f", "mp4"]
            : ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "40", "-pix_fmt", "yuv420p", "-f", "webm"]);
        // Without bitexact the muxers write random track/segment UIDs and a date, so the same frames would give different files.
        args.AddRange(["-fflags", "+bitexact", "-flags:v", "+bitexact"]);
        args.Add(temp);

        var info = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"could not start '{ffmpeg}'");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"ffmpeg is needed to write synthetic videos but '{ffmpeg}' could not be run ({e.Message}); install it (apt-get install ffmpeg) or put it on PATH", e);
        }
        using (process)
        {
            Task<string> errors = process.StandardError.ReadToEndAsync();
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            try
            {
                using Stream stdin = process.StandardInput.BaseStream;
                stdin.Write(clip.Pixels);
            }
            catch (IOException)
            {
                // ffmpeg exited early; its exit code and message below say why.
            }
            process.WaitForExit();
            string message = errors.GetAwaiter().GetResult();
            output.GetAwaiter().GetResult();
            if (process.ExitCode != 0 || !File.Exists(temp))
            {
                File.Delete(temp);
                throw new InvalidOperationException($"ffmpeg failed (exit {process.ExitCode}) writing {path}: {message.Trim()}");
            }
        }
        File.Move(temp, path, overwrite: true);
    }
}
