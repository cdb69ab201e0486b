using System.CommandLine;
using VideoSSL.Torch;

namespace VideoSSL.Cli;

/// <summary>
/// `videossl selftest [--device cuda]`: the checks the CUDA xunit tests run (see DeviceChecks), in seconds and
/// without the .NET SDK, so a lent GPU is verified before anything long starts. Exit 1 if a check failed.
/// </summary>
internal static class SelftestCommand
{
    public static Command Create()
    {
        var device = new Option<string>("--device") { Description = "cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };
        var command = new Command("selftest", "Check transfers, bf16 autocast, attention, AdamW kernels and memory statistics on a device") { device };
        command.SetAction(parse => CliErrors.Run(() => Run(Device.Parse(parse.GetValue(device)!), Console.Out)));
        return command;
    }

    internal static int Run(Device device, TextWriter output)
    {
        output.WriteLine($"libtorch {Torch.Torch.Version} ({(Torch.Torch.IsCudaBuild ? "CUDA" : "CPU")} build), {Torch.Torch.CudaDeviceCount} CUDA device(s)");
        if (device.IsCuda && device.Index >= Torch.Torch.CudaDeviceCount)
        {
            throw new NotSupportedException(Torch.Torch.IsCudaBuild
                ? $"selftest --device {device}: libtorch sees {Torch.Torch.CudaDeviceCount} CUDA device(s)"
                : $"selftest --device {device}: the libtorch shim is a CPU build (rebuild it against a CUDA libtorch: tools/gpu/remote.sh does)");
        }
        output.WriteLine($"device {device}{(device.IsCuda ? $" ({BenchPretrainCommand.CudaDeviceName(device.Index)})" : string.Empty)}");
        var results = DeviceChecks.RunAll(device);
        var width = results.Max(r => r.Name.Length) + 2;
        foreach (var r in results)
        {
            var status = r.Status switch { CheckStatus.Passed => "ok", CheckStatus.Failed => "FAILED", _ => "skipped" };
            output.WriteLine($"{r.Name.PadRight(width)}{status,-9}{r.Detail}");
        }
        var failed = results.Count(r => r.Status == CheckStatus.Failed);
        output.WriteLine($"{results.Count(r => r.Status == CheckStatus.Passed)} passed, {failed} failed, {results.Count(r => r.Status == CheckStatus.Skipped)} skipped");
        return failed == 0 ? 0 : 1;
    }
}
