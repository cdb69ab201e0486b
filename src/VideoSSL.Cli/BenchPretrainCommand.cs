using System.CommandLine;
using System.Globalization;
using VideoSSL.Methods;
using VideoSSL.Training.Config;
using VideoSSL.Torch;
using VideoSSL.Torch.Optim;
using static VideoSSL.Torch.Torch;

namespace VideoSSL.Cli;

/// <summary>
/// One pretraining step (forward, backward, the method's hooks, AdamW) on random clips: the model-side cost without
/// the data loader. `videossl bench pretrain --model vit_base --batch 32 --device cuda --bf16` is the
/// ViT-B 16×224 figure, `--method vjepa2 --model vit_large` the V-JEPA 2 one; `--reference` runs the official model's step (tools/reference/bench_videomae_step.py)
/// in alternation with ours and prints the ratio; `--profile` shows where the time goes, phase by phase and
/// op by op, next to the reference when both are given. `--config` times the step of a pretraining config as it would
/// run (its method section, encoder shape, batch, threads and bf16 keys; `--set` as in `pretrain`), e.g. a quick start's.
/// </summary>
internal static class BenchPretrainCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { DefaultValueFactory = _ => "vit_base" };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 32 };
        var frames = new Option<int>("--frames") { Description = "clip frames (0 = the model entry's: 16, or 8 for *_divst)" };
        var size = new Option<int>("--size") { Description = "clip side in pixels (0 = the model entry's, 224); SVT's views keep the method's sizes" };
        var ratio = new Option<double>("--mask-ratio") { DefaultValueFactory = _ => 0.9 };
        var v2 = new Option<bool>("--v2") { Description = "VideoMAE V2 dual masking" };
        var method = new Option<string>("--method") { Description = "videomae, videomae_v2, vjepa, vjepa2, svt or supervised (registry defaults; svt: the official view set, 2 global + 8 local views; supervised: a 400-class head)", DefaultValueFactory = _ => "videomae" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var bf16 = new Option<bool>("--bf16") { Description = "bf16 autocast (CUDA; on CPU as train.cpu_bf16: oneDNN bf16 matmuls)" };
        var steps = new Option<int>("--steps") { Description = "timed steps (per run with --reference)", DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { Description = "intra-op threads for both sides (0 = libtorch default)" };
        var reference = new Option<bool>("--reference") { Description = "alternate runs with the official model's step in PyTorch and print the ratio" };
        var pairs = new Option<int>("--pairs") { Description = "alternating runs of each side with --reference", DefaultValueFactory = _ => 3 };
        var python = new Option<string>("--python") { Description = "interpreter with torch for the reference", DefaultValueFactory = _ => "/usr/bin/python3" };
        var profile = new Option<bool>("--profile") { Description = "phase times and the op table (next to the reference with --reference)" };
        var byCaller = new Option<bool>("--by-caller") { Description = "with --profile: key ops by their caller (\"caller > op\"), ours only" };
        var top = new Option<int>("--top") { Description = "op-table rows with --profile", DefaultValueFactory = _ => 25 };
        var peak = new Option<double>("--peak-tflops") { Description = "device peak for MFU (default: bf16 dense peak looked up from the CUDA device name)" };
        var zeroGrad = new Option<string>("--zero-grad") { Description = "auto (in place on CPU, to none on CUDA), zero or none", DefaultValueFactory = _ => "auto" };
        var cudnnAttention = new Option<string>("--cudnn-attention") { Description = "CUDA: auto (as train.cudnn_attention: off for V-JEPA, whose shapes change every step), on or off", DefaultValueFactory = _ => "auto" };
        var checkpointing = new Option<bool>("--grad-checkpointing") { Description = "activation checkpointing per encoder block (model.grad_checkpointing)" };
        var configPath = new Option<string>("--config") { Description = "time the step of this pretraining config (method, model, batch, threads, bf16 from it; --batch, --threads, --device, --bf16 override)" };
        var set = new Option<string[]>("--set") { Description = "with --config: override a config key, as pretrain takes it (repeatable)", AllowMultipleArgumentsPerToken = false };
        var kernel = new Option<string>("--adamw") { Description = "AdamW implementation: auto, fused, foreach or per-parameter", DefaultValueFactory = _ => "auto" };
        var command = new Command("pretrain", "Pretraining step time, clips/s, peak memory (and MFU for VideoMAE) on random clips, optionally next to the official VideoMAE step")
        {
            model, batch, frames, size, ratio, v2, method, device, bf16, steps, threads, reference, pairs, python, profile, byCaller, top, peak, zeroGrad, kernel,
            checkpointing, cudnnAttention, configPath, set,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
            if (parse.GetValue(configPath) is { } path)
            {
                if (new Option[] { model, frames, size, ratio, v2, method, checkpointing }.FirstOrDefault(Given) is { } clash)
                {
                    throw new ArgumentException($"{clash.Name} and --config: the config gives the method and model; change them with --set");
                }
                var sets = parse.GetValue(set) ?? [];
                var recipe = PretrainCommand.WithMethodDefaults(ConfigLoader.Load<PretrainConfig>(path, sets));
                var onDevice = CliErrors.RequireAvailable(Device.Parse(Given(device) ? parse.GetValue(device)! : recipe.Train.Device),
                    Given(device) ? $"--device {parse.GetValue(device)}" : $"{path}: train.device={recipe.Train.Device}", "pass --device cpu");
                var encoder = PretrainCommand.EncoderConfig(recipe, MethodRegistry.Get(recipe.Method));
                if (parse.GetValue(reference) && !recipe.Method.StartsWith("videomae", StringComparison.Ordinal))
                {
                    throw new ArgumentException("--reference: the official-step reference is VideoMAE's; leave it out for " + recipe.Method);
                }
                Console.WriteLine($"config {path}{(sets.Length > 0 ? " with --set " + string.Join(" ", sets) : string.Empty)}");
                Run(new Options(PretrainCommand.VideoMAESection(recipe, encoder), recipe.Method, Given(batch) ? parse.GetValue(batch) : recipe.Train.BatchSize, onDevice,
                    Given(bf16) ? parse.GetValue(bf16) : onDevice.IsCuda ? recipe.Train.Bf16 : recipe.Train.CpuBf16, Math.Max(1, parse.GetValue(steps)),
                    Given(threads) ? parse.GetValue(threads) : recipe.Train.Threads, parse.GetValue(reference), Math.Max(1, parse.GetValue(pairs)), parse.GetValue(python)!,
                    parse.GetValue(profile), parse.GetValue(byCaller), parse.GetValue(top), parse.GetValue(peak), ParseZeroGrad(parse.GetValue(zeroGrad)!),
                    ParseKernel(parse.GetValue(kernel)!), Given(cudnnAttention) ? parse.GetValue(cudnnAttention)! : recipe.Train.CudnnAttention,
                    () => PretrainCommand.CreateTask(recipe)));
                return;
            }
            if (parse.GetValue(set) is { Length: > 0 })
            {
                throw new ArgumentException("--set needs --config: it overrides a pretraining config's keys");
            }
            var d = CliErrors.RequireAvailable(Device.Parse(parse.GetValue(device)!), $"--device {parse.GetValue(device)}", "pass --device cpu");
            var name = parse.GetValue(method)!;
            var isV2 = parse.GetValue(v2) || name == "videomae_v2";
            var videoMae = name.StartsWith("videomae", StringComparison.Ordinal);
            Func<VideoSSL.Models.VideoViTConfig, VideoSSL.Models.VideoViTConfig> overrides = e => e with
            {
                ImgSize = parse.GetValue(size) > 0 ? parse.GetValue(size) : e.ImgSize,
                NumFrames = parse.GetValue(frames) > 0 ? parse.GetValue(frames) : e.NumFrames,
                GradCheckpointing = parse.GetValue(checkpointing),
            };
            // Only VideoMAE reads the decoder and mask ratio; other methods take the encoder alone (any registry entry, *_divst included).
            var config = videoMae
                ? VideoMAEConfig.ForSize(parse.GetValue(model)!, isV2, overrides) with { MaskRatio = parse.GetValue(ratio) }
                : new VideoMAEConfig { Encoder = VideoSSL.Models.ModelRegistry.Resolve(parse.GetValue(model)!, overrides) };
            config.Validate();
            if (parse.GetValue(reference) && !name.StartsWith("videomae", StringComparison.Ordinal))
            {
                throw new ArgumentException("--reference: the official-step reference is VideoMAE's; leave it out for " + name);
            }
            var attention = parse.GetValue(cudnnAttention)!;
            if (!VideoSSL.Training.Config.OptimSection.CudnnAttentionValues.Contains(attention))
            {
                throw new ArgumentException($"--cudnn-attention: '{attention}' is not one of {string.Join(", ", VideoSSL.Training.Config.OptimSection.CudnnAttentionValues)}");
            }
            var options = new Options(config, name, parse.GetValue(batch), d, parse.GetValue(bf16), Math.Max(1, parse.GetValue(steps)), parse.GetValue(threads),
                parse.GetValue(reference), Math.Max(1, parse.GetValue(pairs)), parse.GetValue(python)!, parse.GetValue(profile), parse.GetValue(byCaller), parse.GetValue(top),
                parse.GetValue(peak), ParseZeroGrad(parse.GetValue(zeroGrad)!), ParseKernel(parse.GetValue(kernel)!), attention);
            Run(options);
        }));
        return command;
    }

    internal sealed record Options(VideoMAEConfig Config, string Method, int Batch, Device Device, bool Bf16, int Steps, int Threads, bool Reference, int Pairs,
        string Python, bool Profile, bool ByCaller, int Top, double PeakTflops, bool? SetToNone, AdamWKernel Kernel, string CudnnAttention = "auto",
        Func<IPretrainTask>? CreateTask = null);

    internal static bool? ParseZeroGrad(string value) => value switch
    {
        "auto" => null,
        "zero" => false,
        "none" => true,
        _ => throw new ArgumentException($"--zero-grad: '{value}' is not one of auto, zero, none"),
    };

    internal static AdamWKernel ParseKernel(string value) => value switch
    {
        "auto" => AdamWKernel.Auto,
        "fused" => AdamWKernel.Fused,
        "foreach" => AdamWKernel.Foreach,
        "per-parameter" => AdamWKernel.PerParameter,
        _ => throw new ArgumentException($"--adamw: '{value}' is not one of auto, fused, foreach, per-parameter"),
    };

    private static void Run(Options o)
    {
        if (o.Threads > 0)
        {
            NumThreads = o.Threads;
        }
        if (o.Device.IsCuda)
        {
            SetAllowTf32(true);
        }
        var e = o.Config.Encoder;
        using var bench = o.CreateTask is null
            ? new PretrainStepBench(o.Config, o.Method, o.Batch, o.Device, o.Bf16, o.Kernel, o.SetToNone)
            : new PretrainStepBench(o.Config, o.CreateTask, o.Batch, o.Device, o.Bf16, o.Kernel, o.SetToNone);
        if (o.Device.IsCuda)
        {
            PretrainCommand.ConfigureCudnnAttention(o.CudnnAttention, bench.ShapesVaryPerStep, Console.WriteLine);
        }
        var input = bench.ViewShapes is { } views
            ? $"{e.Name}, {o.Method}, views {string.Join(" + ", views.GroupBy(v => (v.Frames, v.Size)).Select(g => $"{g.Count()} x {g.Key.Frames}x{g.Key.Size}"))}"
            : $"{e.Name} {e.NumFrames}x{e.ImgSize}, {e.NumTokens} tokens, {(o.Method.StartsWith("videomae", StringComparison.Ordinal) ? $"mask {o.Config.MaskRatio}{(o.Config.DualMasking ? " + running-cell decoder mask" : string.Empty)}" : o.Method)}";
        Console.WriteLine($"{input}, batch {o.Batch}, {o.Device}{(o.Bf16 ? ", bf16" : string.Empty)}, {bench.ParameterCount:N0} parameters");
        Console.WriteLine($"libtorch {Torch.Torch.Version}, {NumThreads} threads, glibc thresholds {(Profiling.AllocatorConfigured ? "fixed by the shim" : "default (VIDEOSSL_MALLOPT=0)")}, {MallocTcache.Describe()}, zero_grad {o.SetToNone switch { null => "auto", true => "to none", false => "in place" }}, AdamW {o.Kernel}");
        using var reference = o.Reference ? ReferenceStepProcess.Start(o.Python, o.Config, o.Batch, o.Device.ToString(), o.Bf16, NumThreads) : null;
        if (reference is not null)
        {
            Console.WriteLine($"reference: official PretrainVisionTransformer + torch.optim.AdamW, torch {reference.TorchVersion}, {NumThreads} threads, {reference.Parameters:N0} parameters{(reference.Parameters == bench.ParameterCount ? string.Empty : " (NOT the same model as ours)")}");
        }
        bench.Run(2); // warm-up: first-call costs, optimizer state, allocator growth
        if (o.Device.IsCuda)
        {
            CudaMemory(o.Device.Index, resetPeak: true);
        }
        var ours = new List<StepRun>();
        var theirs = new List<StepRun>();
        for (var pair = 0; pair < (reference is null ? 1 : o.Pairs); pair++)
        {
            var run = bench.Run(o.Steps);
            ours.Add(run);
            if (reference is not null)
            {
                var r = reference.Run(o.Steps).Run;
                theirs.Add(r);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"pair {pair + 1}: VideoSSL min {run.MinWall:F1} ms (cpu {run.MinCpu:F1}), official min {r.MinWall:F1} ms (cpu {r.MinCpu:F1})"));
            }
        }
        var all = Merge(ours);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"step {all.MedianWall:F1} ms (median of {all.WallMs.Length}; min {all.MinWall:F1}, max {all.WallMs.Max():F1}; process cpu min {all.MinCpu:F1} ms), {o.Batch * 1000.0 / all.MedianWall:F1} clips/s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"page faults per step: {ours.Average(r => r.MinorFaultsPerStep):F0} minor, {ours.Average(r => r.MajorFaultsPerStep):F0} major; GC pause {ours.Average(r => r.GcPauseMsPerStep):F2} ms per step"));
        PrintFlops(o, all.MedianWall);
        if (o.Device.IsCuda)
        {
            var memory = CudaMemory(o.Device.Index);
            Console.WriteLine($"peak allocated {memory.PeakAllocated / 1073741824.0:F2} GiB, peak reserved {memory.PeakReserved / 1073741824.0:F2} GiB");
        }
        if (theirs.Count > 0)
        {
            var t = Merge(theirs);
            Console.WriteLine();
            Console.WriteLine($"{"side by side (" + o.Pairs + " alternating runs of " + o.Steps + " steps)",-52}{"VideoSSL",11}{"official",11}{"ratio",9}");
            Row("step, min wall (ms)", all.MinWall, t.MinWall);
            Row("step, median wall (ms)", all.MedianWall, t.MedianWall);
            Row("step, min process cpu (ms)", all.MinCpu, t.MinCpu);
            Row("minor page faults per step", ours.Average(r => r.MinorFaultsPerStep), theirs.Average(r => r.MinorFaultsPerStep));
        }
        if (o.Profile)
        {
            PrintProfile(o, bench, reference);
        }
    }

    private static StepRun Merge(List<StepRun> runs) =>
        new([.. runs.SelectMany(r => r.WallMs)], [.. runs.SelectMany(r => r.CpuMs)], runs.Average(r => r.MinorFaultsPerStep), runs.Average(r => r.MajorFaultsPerStep), runs.Average(r => r.GcPauseMsPerStep));

    private static void Row(string name, double ours, double theirs) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-52}{ours,11:F1}{theirs,11:F1}{ours / theirs,8:F2}x"));

    private static void PrintFlops(Options o, double stepMs)
    {
        if (!o.Method.StartsWith("videomae", StringComparison.Ordinal))
        {
            // TrainingFlops models VideoMAE's encoder-on-visible-tokens plus decoder; V-JEPA (context encoder, target
            // encoder, predictor over random block masks) and SVT (student over every view, teacher over the globals)
            // would need their own count, and a VideoMAE figure under their name would be wrong.
            Console.WriteLine($"model FLOPs: counted for videomae and videomae_v2 only; no MFU for {o.Method}");
            return;
        }
        var flops = PretrainStepBench.TrainingFlops(o.Config, o.Batch);
        var achieved = flops / (stepMs / 1e3) / 1e12;
        var peak = o.PeakTflops > 0 ? o.PeakTflops : o.Device.IsCuda ? PeakBf16Tflops(CudaDeviceName(o.Device.Index)) : 0;
        var deviceName = o.Device.IsCuda ? CudaDeviceName(o.Device.Index) : "cpu";
        var mfu = peak > 0
            ? string.Create(CultureInfo.InvariantCulture, $", MFU {100 * achieved / peak:F1}% of {peak:F0} TFLOP/s ({deviceName})")
            : " (MFU: pass --peak-tflops, or run on a known CUDA device)";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"model FLOPs {flops / 1e12:F3} TFLOP per step, {achieved:F3} TFLOP/s achieved{mfu}"));
    }

    /// <summary>The GPU's name as nvidia-smi reports it (the shim stays free of CUDA runtime headers), or "" without one.</summary>
    internal static string CudaDeviceName(int index)
    {
        try
        {
            var start = new System.Diagnostics.ProcessStartInfo("nvidia-smi", $"--query-gpu=name --format=csv,noheader -i {Math.Max(index, 0)}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = System.Diagnostics.Process.Start(start)!;
            var name = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? name : string.Empty;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return string.Empty;
        }
    }

    /// <summary>Dense bf16 tensor-core peak (TFLOP/s) of common datacenter GPUs, from their vendor data sheets; 0 if unknown.</summary>
    internal static double PeakBf16Tflops(string deviceName)
    {
        var n = deviceName.ToUpperInvariant();
        return n switch
        {
            _ when n.Contains("H200") || n.Contains("GH200") => 989,
            _ when n.Contains("H100") && n.Contains("PCIE") => 756,
            _ when n.Contains("H100") && n.Contains("NVL") => 835,
            _ when n.Contains("H100") || n.Contains("H800") => 989,
            _ when n.Contains("B200") => 2250,
            _ when n.Contains("A100") || n.Contains("A800") => 312,
            _ when n.Contains("L40S") => 362,
            _ when n.Contains("L4") => 121,
            _ when n.Contains("A10") => 125,
            _ => 0,
        };
    }

    private static void PrintProfile(Options o, PretrainStepBench bench, ReferenceStepProcess? reference)
    {
        var steps = Math.Min(o.Steps, 5);
        var (_, ours) = bench.Profile(steps, o.ByCaller);
        var theirs = o.ByCaller ? null : reference?.Run(steps, profile: true).Profile;
        Console.WriteLine();
        Console.WriteLine($"{"phase (ms per step, exclusive)",-36}{"VideoSSL",11}{(theirs is null ? string.Empty : $"{"official",11}{"ratio",9}")}");
        string[] order = ["masks", "target", "encoder", "decoder", "predictor", "student", "teacher", "loss", "backward", "optimizer", "zero_grad", "scope_dispose", "other"];
        foreach (var phase in order.Concat(ours.PhasesMs.Keys.Concat(theirs?.PhasesMs.Keys.AsEnumerable() ?? []).Except(order).Distinct()))
        {
            var a = ours.PhasesMs.GetValueOrDefault(phase, double.NaN);
            var b = theirs?.PhasesMs.GetValueOrDefault(phase, double.NaN) ?? double.NaN;
            if (!double.IsFinite(a) && !double.IsFinite(b))
            {
                continue; // VideoMAE's phases; other methods' forward and loss land in "other"
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{phase,-36}{a,11:F2}{(theirs is null ? string.Empty : $"{b,11:F2}{(double.IsFinite(a) && double.IsFinite(b) && b > 0 ? $"{a / b,8:F2}x" : $"{"-",9}")}")}"));
        }
        Console.WriteLine();
        Console.WriteLine($"{"op (per step; self time)",-52}{"calls",8}{"self us",11}{(theirs is null ? string.Empty : $"{"calls",8}{"self us",11}")}");
        var theirOps = theirs?.Ops.ToDictionary(r => r.Name, StringComparer.Ordinal) ?? [];
        var ourOps = ours.Ops.ToDictionary(r => r.Name, StringComparer.Ordinal);
        var names = ourOps.Keys.Union(theirOps.Keys)
            .OrderByDescending(n => Math.Max(ourOps.GetValueOrDefault(n)?.SelfMicroseconds ?? 0, theirOps.GetValueOrDefault(n)?.SelfMicroseconds ?? 0))
            .Take(o.Top);
        foreach (var name in names)
        {
            var a = ourOps.GetValueOrDefault(name);
            var b = theirOps.GetValueOrDefault(name);
            var label = name.Length > 50 ? name[..50] : name;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label,-52}{a?.Count ?? 0,8}{a?.SelfMicroseconds ?? 0,11:F0}{(theirs is null ? string.Empty : $"{b?.Count ?? 0,8}{b?.SelfMicroseconds ?? 0,11:F0}")}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"all ops",-52}{ours.Ops.Sum(r => r.Count),8}{ours.Ops.Sum(r => r.SelfMicroseconds),11:F0}{(theirs is null ? string.Empty : $"{theirs.Ops.Sum(r => r.Count),8}{theirs.Ops.Sum(r => r.SelfMicroseconds),11:F0}")}"));
    }
}
