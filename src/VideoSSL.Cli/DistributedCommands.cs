using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;

namespace VideoSSL.Cli;

/// <summary>`videossl launch` (one node, N processes, torchrun's variables) and the hidden `dist-selftest`.</summary>
internal static class DistributedCommands
{
    /// <summary>
    /// This process's place in a distributed job, from torchrun's or SLURM's variables; a single process when none
    /// are set. With CUDA training, LOCAL_RANK picks the device (one process per device).
    /// </summary>
    /// <param name="quietWorkers">Ranks other than 0 stop printing to stdout, as the official setup_for_distributed (VideoMAE utils.py).</param>
    public static DistributedContext Join(bool cuda, Action<string> log, bool quietWorkers = true)
    {
        var launch = LaunchEnvironment.Read();
        if (launch is null || launch.WorldSize == 1)
        {
            return DistributedContext.Single;
        }
        var context = DistributedContext.Initialize(launch, cuda);
        if (quietWorkers && !context.IsMain)
        {
            Console.SetOut(TextWriter.Null);
        }
        log($"distributed: rank {context.Rank} of {context.WorldSize} (local rank {context.LocalRank}, {launch.Source}, {(context.Device.IsCuda ? "NCCL" : "Gloo")}, store {launch.MasterAddr}:{launch.MasterPort}, timeout {launch.Timeout.TotalSeconds:G4} s, gradient buckets of {launch.BucketBytes / 1048576.0:G3} MiB all-reduced {(launch.OverlapGradients ? "during" : "after")} backward)");
        return context;
    }

    public static Command CreateLaunch()
    {
        var nproc = new Option<int>("--nproc") { Description = "processes to start on this node (one per GPU)", DefaultValueFactory = _ => 2 };
        var port = new Option<int>("--master-port") { Description = "store port (default: a free one)" };
        var timeout = new Option<double>("--timeout") { Description = "seconds a collective may wait for a rank before the job fails (VIDEOSSL_DIST_TIMEOUT)", DefaultValueFactory = _ => 1800 };
        var rest = new Argument<string[]>("command") { Description = "the videossl command each rank runs: -- pretrain CONFIG ...", Arity = ArgumentArity.OneOrMore };
        var command = new Command("launch", "Run a videossl command as N data-parallel processes on this node (as torchrun --nproc-per-node N)") { nproc, port, timeout, rest };
        command.SetAction(parse => CliErrors.Run(() => Launch(parse.GetValue(nproc), parse.GetValue(port), parse.GetValue(timeout), parse.GetValue(rest)!)));
        return command;
    }

    /// <summary>Starts the ranks, waits for them, and stops the rest when one fails (as torchrun's agent does).</summary>
    public static int Launch(int nproc, int masterPort, double timeoutSeconds, IReadOnlyList<string> args)
    {
        if (nproc < 1)
        {
            throw new ArgumentException($"--nproc must be at least 1, got {nproc}");
        }
        if (timeoutSeconds <= 0)
        {
            throw new ArgumentException($"--timeout must be positive, got {timeoutSeconds}");
        }
        if (args.Count > 0 && args[0] == "launch")
        {
            throw new ArgumentException("launch cannot launch itself");
        }
        var port = masterPort > 0 ? masterPort : FreePort();
        var (file, prefix) = SelfCommand();
        var processes = new List<Process>();
        try
        {
            for (var rank = 0; rank < nproc; rank++)
            {
                var start = new ProcessStartInfo(file) { UseShellExecute = false };
                foreach (var a in prefix.Concat(args))
                {
                    start.ArgumentList.Add(a);
                }
                start.Environment["RANK"] = rank.ToString(CultureInfo.InvariantCulture);
                start.Environment["LOCAL_RANK"] = rank.ToString(CultureInfo.InvariantCulture);
                start.Environment["WORLD_SIZE"] = nproc.ToString(CultureInfo.InvariantCulture);
                start.Environment["LOCAL_WORLD_SIZE"] = nproc.ToString(CultureInfo.InvariantCulture);
                start.Environment["MASTER_ADDR"] = "127.0.0.1";
                start.Environment["MASTER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
                start.Environment["VIDEOSSL_DIST_TIMEOUT"] = timeoutSeconds.ToString(CultureInfo.InvariantCulture);
                processes.Add(Process.Start(start) ?? throw new IOException($"could not start rank {rank}: {file}"));
            }
            Console.Error.WriteLine($"launch: {nproc} ranks (pids {string.Join(", ", processes.Select(p => p.Id))}), store 127.0.0.1:{port}");
            // Once a rank fails, the others get a grace period to report what they saw, then are stopped.
            var failedAt = (DateTime?)null;
            var exitCode = 0;
            while (processes.Any(p => !p.HasExited))
            {
                Thread.Sleep(100);
                foreach (var (p, rank) in processes.Select((p, r) => (p, r)))
                {
                    if (p.HasExited && p.ExitCode != 0 && failedAt is null)
                    {
                        failedAt = DateTime.UtcNow;
                        exitCode = p.ExitCode;
                        Console.Error.WriteLine($"launch: rank {rank} exited with code {p.ExitCode}");
                    }
                }
                if (failedAt is { } t && DateTime.UtcNow - t > TimeSpan.FromSeconds(Math.Min(30, timeoutSeconds)))
                {
                    break;
                }
            }
            return exitCode;
        }
        finally
        {
            foreach (var p in processes)
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit();
                }
                p.Dispose();
            }
        }
    }

    /// <summary>How to start this CLI again: the apphost, or `dotnet videossl.dll`.</summary>
    internal static (string File, string[] Prefix) SelfCommand()
    {
        var process = Environment.ProcessPath ?? throw new IOException("cannot tell which executable is running");
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? (process, [Assembly.GetEntryAssembly()!.Location])
            : (process, []);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Checks the c10d binding across real processes: rank r contributes tensors filled with r+1; prints one line per
    /// collective. `--file-store PATH --rank R --world N` joins through a FileStore, otherwise through the launch
    /// variables. `--loop` keeps all-reducing until killed (tests kill a rank and expect the others to fail, naming it).
    /// </summary>
    public static Command CreateSelfTest()
    {
        var fileStore = new Option<string?>("--file-store");
        var rank = new Option<int>("--rank");
        var world = new Option<int>("--world") { DefaultValueFactory = _ => 1 };
        var timeout = new Option<double>("--timeout") { DefaultValueFactory = _ => 60 };
        var loop = new Option<bool>("--loop");
        var command = new Command("dist-selftest", "Check the c10d collectives across processes") { fileStore, rank, world, timeout, loop };
        command.Hidden = true;
        command.SetAction(parse => CliErrors.Run(() => SelfTest(parse.GetValue(fileStore), parse.GetValue(rank), parse.GetValue(world), parse.GetValue(timeout), parse.GetValue(loop))));
        return command;
    }

    private static int SelfTest(string? fileStore, int rank, int world, double timeoutSeconds, bool loop)
    {
        var timeout = TimeSpan.FromSeconds(timeoutSeconds);
        using var context = fileStore is null
            ? Join(false, Console.WriteLine, quietWorkers: false)
            : DistributedContext.Initialize(Store.File(fileStore, world, timeout), rank, world, rank, Backend.Gloo, timeout);
        var r = context.Rank;
        var n = context.WorldSize;
        string F(Tensor t) => string.Join(",", t.ToArray<float>().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        using (Torch.Torch.NewScope())
        {
            // Two dtypes and an odd size: buckets are split by dtype.
            var a = Tensor.From(Enumerable.Repeat((float)(r + 1), 5).ToArray(), 5);
            var b = Tensor.From(Enumerable.Repeat((double)(r + 1), 3).ToArray(), 3);
            context.Broadcast([a, b]);
            Console.WriteLine($"broadcast {F(a)} {string.Join(",", b.ToArray<double>())}");
            var c = Tensor.From(Enumerable.Range(0, 4).Select(i => (float)(r + 1) * (i + 1)).ToArray(), 4);
            var s = context.Sum(r + 1.0);
            var m = context.Average(r + 1.0);
            c.RequiresGrad = true;  // the gradient path: a leaf whose grad is filled with r+1
            c.Grad = Tensor.From(Enumerable.Repeat((float)(r + 1), 4).ToArray(), 4);
            context.AverageGradients([c]);
            using var g = c.Grad!;
            Console.WriteLine($"allreduce sum {s[0].ToString(CultureInfo.InvariantCulture)} mean {m[0].ToString(CultureInfo.InvariantCulture)} grad {F(g)}");
            var gathered = context.AllGather(Tensor.From(new[] { (float)r, (float)(10 * r) }, 2));
            Console.WriteLine($"allgather [{string.Join(",", gathered.Shape)}] {F(gathered)}");
            context.Barrier();
            Console.WriteLine($"barrier rank {r} of {n}");
        }
        while (loop)
        {
            Console.WriteLine("looping");
            using var scope = Torch.Torch.NewScope();
            context.Sum(1.0);
            Thread.Sleep(100);
        }
        return 0;
    }
}
