using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using VideoSSL.Torch;
using static VideoSSL.Torch.Torch;

namespace VideoSSL.Cli;

internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks (speed targets live here, not in unit tests)");
        bench.Subcommands.Add(CreateOps());
        bench.Subcommands.Add(BenchPretrainCommand.Create());
        bench.Subcommands.Add(BenchDataCommand.Create());
        return bench;
    }

    private static Command CreateOps()
    {
        var device = new Option<string>("--device") { Description = "cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };
        var dim = new Option<int>("--dim") { Description = "block width", DefaultValueFactory = _ => 384 };
        var heads = new Option<int>("--heads") { Description = "attention heads", DefaultValueFactory = _ => 6 };
        var tokens = new Option<int>("--tokens") { Description = "tokens per sample (1568 = 16x224x224 with 2x16x16 tubelets)", DefaultValueFactory = _ => 1568 };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 2 };
        var iterations = new Option<int>("--iterations") { Description = "timed block steps", DefaultValueFactory = _ => 10 };
        var bf16 = new Option<bool>("--bf16") { Description = "run the block under bf16 autocast" };
        var threads = new Option<int>("--threads") { Description = "intra-op threads for both sides (0 = libtorch default)" };
        var noReference = new Option<bool>("--no-reference") { Description = "skip the PyTorch reference run" };
        var python = new Option<string>("--python") { Description = "interpreter with torch for the reference", DefaultValueFactory = _ => "/usr/bin/python3" };
        var command = new Command("ops", "Per-op overhead and one ViT block's forward+backward, next to PyTorch on the same libtorch")
        {
            device, dim, heads, tokens, batch, iterations, bf16, threads, noReference, python,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var d = CliErrors.RequireAvailable(Device.Parse(parse.GetValue(device)!), $"--device {parse.GetValue(device)}", "pass --device cpu");
            var threadCount = parse.GetValue(threads);
            if (threadCount > 0)
            {
                NumThreads = threadCount;
            }
            Console.WriteLine($"libtorch {Torch.Torch.Version} ({(IsCudaBuild ? "CUDA" : "CPU")} build), device {d}, {NumThreads} threads, {MallocTcache.Describe()}");
            var addUs = PerOpMicroseconds(a => a.Add(a));
            var matmulUs = PerOpMicroseconds(a => a.MatMul(a));
            var blockMs = OpsBenchmark.BlockStepMilliseconds(parse.GetValue(dim), parse.GetValue(heads), parse.GetValue(tokens), parse.GetValue(batch), parse.GetValue(iterations), d, parse.GetValue(bf16));
            Reference? reference = null;
            if (!parse.GetValue(noReference))
            {
                reference = RunReference(parse.GetValue(python)!, parse, dim, heads, tokens, batch, iterations, bf16, device, NumThreads);
            }
            Console.WriteLine();
            Console.WriteLine($"{"measure",-36}{"VideoSSL",12}{"PyTorch",12}{"ratio",9}");
            Row("per-op overhead, add 8x8 (us)", addUs, reference?.AddUs);
            Row("per-op overhead, matmul 8x8 (us)", matmulUs, reference?.MatmulUs);
            Row($"ViT block fwd+bwd D={parse.GetValue(dim)} N={parse.GetValue(tokens)} B={parse.GetValue(batch)} (ms)", blockMs, reference?.BlockMs);
            if (d.IsCuda)
            {
                var memory = CudaMemory(d.Index);
                Console.WriteLine($"CUDA peak allocated {memory.PeakAllocated / 1048576.0:F0} MiB, reserved {memory.PeakReserved / 1048576.0:F0} MiB");
            }
            return 0;
        }));
        return command;
    }

    private static void Row(string name, double ours, double? theirs) =>
        Console.WriteLine(theirs is { } t
            ? $"{name,-36}{ours,12:F3}{t,12:F3}{ours / t,8:F2}x"
            : $"{name,-36}{ours,12:F3}{"-",12}{"-",9}");

    // Times an op on 8x8 CPU tensors the way training code runs it: inside a dispose scope that frees the
    // results, 100 ops at a time. Handle creation, registration and freeing are all included.
    private static double PerOpMicroseconds(Func<Tensor, Tensor> op)
    {
        const int iterations = 20000;
        const int perScope = 100;
        using var a = Ones([8, 8]);
        void Run(int count)
        {
            for (var k = 0; k < count; k += perScope)
            {
                using var scope = NewScope();
                for (var j = 0; j < perScope; j++)
                {
                    op(a);
                }
            }
        }
        Run(1000);
        var best = double.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var watch = Stopwatch.StartNew();
            Run(iterations);
            best = Math.Min(best, watch.Elapsed.TotalMicroseconds / iterations);
        }
        return best;
    }

    private sealed record Reference(double AddUs, double MatmulUs, double BlockMs);

    private static Reference? RunReference(string python, ParseResult parse, Option<int> dim, Option<int> heads, Option<int> tokens, Option<int> batch, Option<int> iterations, Option<bool> bf16, Option<string> device, int threads)
    {
        var script = FindScript("tools/reference/bench_ops.py");
        if (script is null)
        {
            Console.WriteLine("PyTorch reference: tools/reference/bench_ops.py not found (run from the repository)");
            return null;
        }
        var arguments = string.Create(CultureInfo.InvariantCulture,
            $"{script} --dim {parse.GetValue(dim)} --heads {parse.GetValue(heads)} --tokens {parse.GetValue(tokens)} --batch {parse.GetValue(batch)} --iterations {parse.GetValue(iterations)} --device {parse.GetValue(device)} --threads {threads}{(parse.GetValue(bf16) ? " --bf16" : string.Empty)}");
        try
        {
            using var process = Process.Start(MallocTcache.AsStarted(new ProcessStartInfo(python, arguments) { RedirectStandardOutput = true, RedirectStandardError = true }))!;
            var output = process.StandardOutput.ReadToEnd();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                Console.WriteLine($"PyTorch reference failed ({python}): {error.Trim()}");
                return null;
            }
            using var json = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            var r = json.RootElement;
            Console.WriteLine($"PyTorch reference: torch {r.GetProperty("torch").GetString()}, {r.GetProperty("threads").GetInt32()} threads");
            return new Reference(r.GetProperty("add_us").GetDouble(), r.GetProperty("matmul_us").GetDouble(), r.GetProperty("block_ms").GetDouble());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.WriteLine($"PyTorch reference not run: {python}: {e.Message} (Debian: apt-get install python3-torch)");
            return null;
        }
    }

    internal static string? FindScript(string relative)
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }
}
