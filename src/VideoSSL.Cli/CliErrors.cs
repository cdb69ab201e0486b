using VideoSSL.Data.Video;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Cli;

/// <summary>Expected failures (bad config or input, missing file, divergence) print one clear line and exit 1; bugs keep their stack trace.</summary>
internal static class CliErrors
{
    public static int Guard(Action action) => Run(() =>
    {
        action();
        return 0;
    });

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsExpected(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Refuses a CUDA device this libtorch cannot reach, in one line naming where the device came from and how to
    /// change it, before the first tensor would fail deep in the dispatcher with libtorch's backend listing.
    /// </summary>
    public static Device RequireAvailable(Device device, string source, string fix)
    {
        if (device.IsCuda && !Torch.Torch.CudaIsAvailable)
        {
            throw new ConfigException($"{source}, but this libtorch {(Torch.Torch.IsCudaBuild ? "sees no CUDA device" : "is a CPU build")}: {fix}");
        }
        return device;
    }

    // Each of these names the offending file, key, option or value in its message.
    private static bool IsExpected(Exception e) => e is ConfigException or FileNotFoundException or DirectoryNotFoundException
        or InvalidDataException or IOException or UnauthorizedAccessException or TrainingDivergedException or StateDictMismatchException
        or TorchException or NotSupportedException or VideoDecodeException or ArgumentException or FormatException or DllNotFoundException
        or VideoSSL.Torch.Distributed.DistributedException;
}
