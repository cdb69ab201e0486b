using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Cli;

/// <summary>Expected failures (bad config, missing file, divergence) print one clear line and exit 1; bugs keep their stack trace.</summary>
internal static class CliErrors
{
    public static int Guard(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is ConfigException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
                                      or IOException or TrainingDivergedException or StateDictMismatchException or TorchException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
