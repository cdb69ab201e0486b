using System.Reflection;
using System.Runtime.InteropServices;

namespace VideoSSL.Data.Video;

/// <summary>The C ABI of native/av/videossl_av.h. Every call returns a <see cref="VideoError"/> code.</summary>
internal static unsafe partial class AvNative
{
    private const string LibraryName = "videossl_av";
    private const string FileName = "libvideossl_av.so";
    private const string EnvironmentVariable = "VIDEOSSL_AV_LIB";

    // The resolver must be in place before the first call; the static constructor of the class that
    // declares the imports runs before any of them.
    static AvNative()
    {
        NativeLibrary.SetDllImportResolver(typeof(AvNative).Assembly, Resolve);
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Info
    {
        public int Width;
        public int Height;
        public long FrameCount;
        public double Fps;
        public double DurationSeconds;
        public int FrameCountExact;
        public int Reserved;
        public fixed byte Codec[32];
    }

    [LibraryImport(LibraryName, EntryPoint = "vav_open", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int threads, out VideoHandle reader);

    [LibraryImport(LibraryName, EntryPoint = "vav_get_info")]
    internal static partial int GetInfo(VideoHandle reader, Info* info);

    [LibraryImport(LibraryName, EntryPoint = "vav_output_size")]
    internal static partial int OutputSize(VideoHandle reader, int mode, int a, int b, int* width, int* height);

    [LibraryImport(LibraryName, EntryPoint = "vav_read")]
    internal static partial int Read(VideoHandle reader, int* indices, int* slots, int count, int mode, int a, int b, byte* output, long outputBytes);

    [LibraryImport(LibraryName, EntryPoint = "vav_close")]
    internal static partial void Close(nint reader);

    [LibraryImport(LibraryName, EntryPoint = "vav_last_error")]
    internal static partial nint LastError();

    /// <summary>Owns a vav_reader*; closes it exactly once, even when the reader is never disposed.</summary>
    internal sealed class VideoHandle : SafeHandle
    {
        public VideoHandle()
            : base(0, ownsHandle: true)
        {
        }

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            AvNative.Close(handle);
            return true;
        }
    }

    internal static string LastErrorMessage() => Marshal.PtrToStringUTF8(LastError()) ?? "";

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != LibraryName)
        {
            return 0;
        }
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, FileName) };
        var buildDir = assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "VideoSSL.NativeDir.av")?.Value;
        if (!string.IsNullOrEmpty(buildDir))
        {
            candidates.Add(Path.Combine(buildDir, FileName));
        }
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            candidates.Add(fromEnvironment);
        }
        foreach (var candidate in candidates)
        {
            // A file that exists but fails to load (missing libav*.so) must surface its own error.
            if (File.Exists(candidate))
            {
                return NativeLibrary.Load(candidate);
            }
        }
        throw new DllNotFoundException(
            $"{FileName} not found; looked in: {string.Join(", ", candidates)}. "
            + $"Build it with `native/build.sh av` (dotnet build does this) or set {EnvironmentVariable} to its full path.");
    }
}
