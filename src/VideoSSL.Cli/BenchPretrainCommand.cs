using System.CommandLine;
using System.Diagnostics;
using VideoSSL.Methods;
using VideoSSL.Torch;
using VideoSSL.Torch.Optim;
using static VideoSSL.Torch.Torch;

namespace VideoSSL.Cli;

/// <summary>
/// One pretraining step (forward, backward, the method's hooks, AdamW) on random clips: the model-side cost
/// without the data loader. `videossl bench pretrain --model vit_base --batch 32 --device cuda --bf16` is the
/// VideoMAE ViT-B 16×224 figure; `--method vjepa2 --model vit_large` the V-JEPA 2 one.
/// </summary>
internal static class BenchPretrainCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { DefaultValueFactory = _ => "vit_base" };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 32 };
        var frames = new Option<int>("--frames") { DefaultValueFactory = _ => 16 };
        var size = new Option<int>("--size") { DefaultValueFactory = _ => 224 };
        var ratio = new Option<double>("--mask-ratio") { DefaultValueFactory = _ => 0.9 };
        var v2 = new Option<bool>("--v2") { Description = "VideoMAE V2 dual masking" };
        var method = new Option<string>("--method") { Description = "videomae, videomae_v2, vjepa or vjepa2 (registry defaults)", DefaultValueFactory = _ => "videomae" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var bf16 = new Option<bool>("--bf16") { Description = "bf16 autocast (CUDA)" };
        var steps = new Option<int>("--steps") { Description = "timed steps", DefaultValueFactory = _ => 10 };
        var command = new Command("pretrain", "VideoMAE pretraining step time, clips/s and peak memory on random clips")
        {
            model, batch, frames, size, ratio, v2, method, device, bf16, steps,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var d = Device.Parse(parse.GetValue(device)!);
            var name = parse.GetValue(method)!;
            var isV2 = parse.GetValue(v2) || name == "videomae_v2";
            var config = VideoMAEConfig.ForSize(parse.GetValue(model)!, isV2,
                e => e with { ImgSize = parse.GetValue(size), NumFrames = parse.GetValue(frames) }) with { MaskRatio = parse.GetValue(ratio) };
            var registered = MethodRegistry.Get(name);
            var encoder = registered.EncoderDefaults(config.Encoder);
            var description = name.StartsWith("videomae", StringComparison.Ordinal)
                ? $"mask {config.MaskRatio}{(config.DualMasking ? " + running-cell decoder mask" : string.Empty)}"
                : $"{name}, {encoder.PosEmbed}";
            Run(() => registered.Create(new MethodInputs(encoder.Name, encoder, 0, t => t == typeof(VideoMAEConfig) ? config : registered.DefaultSection)),
                encoder, description, parse.GetValue(batch), d, parse.GetValue(bf16), parse.GetValue(steps));
        }));
        return command;
    }

    private static void Run(Func<IPretrainTask> create, VideoSSL.Models.VideoViTConfig e, string description, int batch, Device device, bool bf16, int steps)
    {
        ManualSeed(0);
        if (device.IsCuda)
        {
            SetAllowTf32(true);
        }
        using var task = create();
        task.Model.To(device);
        using var optimizer = new AdamW(task.ParamGroups(0.05), 1e-4, 0.9, 0.95);
        using var clips = Randn([batch, 3, e.NumFrames, e.ImgSize, e.ImgSize], device: device);
        Console.WriteLine($"{e.Name} {e.NumFrames}x{e.ImgSize}, {e.NumTokens} tokens, {description}, batch {batch}, {device}{(bf16 ? ", bf16" : string.Empty)}, {task.Model.ParameterCount(true):N0} trainable parameters");
        var plan = new SchedulePlan(1000, 100, 0);
        var schedules = task.Schedules(plan);
        void Step(long step)
        {
            using var scope = NewScope();
            Tensor loss;
            using (bf16 ? Autocast(device) : null)
            {
                loss = task.Loss(PretrainBatch.OfClips(clips, step)).Loss;
            }
            loss.Backward();
            var context = new OptimizerStepContext(step, plan, schedules.ToDictionary(kv => kv.Key, kv => kv.Value.At(step)));
            task.BeforeOptimizerStep(context);
            optimizer.Step();
            optimizer.ZeroGrad();
            task.AfterOptimizerStep(context);
        }
        void Sync()
        {
            if (device.IsCuda)
            {
                CudaSynchronize(device.Index);
            }
        }
        for (var k = 0; k < 2; k++)
        {
            Step(k);
        }
        Sync();
        if (device.IsCuda)
        {
            CudaMemory(device.Index, resetPeak: true);
        }
        var times = new List<double>();
        for (var k = 0; k < steps; k++)
        {
            var watch = Stopwatch.StartNew();
            Step(k + 2);
            Sync();
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        var median = times[times.Count / 2];
        Console.WriteLine($"step {median:F1} ms (median of {steps}; min {times[0]:F1}, max {times[^1]:F1}), {batch * 1000.0 / median:F1} clips/s");
        if (device.IsCuda)
        {
            var memory = CudaMemory(device.Index);
            Console.WriteLine($"peak allocated {memory.PeakAllocated / 1073741824.0:F2} GiB, peak reserved {memory.PeakReserved / 1073741824.0:F2} GiB");
        }
    }
}
