using VideoSSL.Cli;
using VideoSSL.Methods;
using VideoSSL.Tests.Distributed;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Tests.Bench;

public class BenchPretrainTests
{
    private static VideoMAEConfig Micro => VideoMAEConfig.ForSize("vit_micro", overrides: e => e with { NumFrames = 4, ImgSize = 32 });

    [Fact]
    public void Reference_step_is_the_same_model_and_alternates_with_ours()
    {
        using var bench = new PretrainStepBench(Micro, "videomae", batch: 2, VideoSSL.Torch.Device.CPU, bf16: false, AdamWKernel.Auto, setToNone: null);
        using var reference = ReferenceStepProcess.Start("/usr/bin/python3", Micro, 2, "cpu", bf16: false, threads: 1);
        Assert.NotNull(reference);
        // The transcription of the official PretrainVisionTransformer has exactly our parameters.
        Assert.Equal(bench.ParameterCount, reference.Parameters);
        var ours = bench.Run(2);
        var (theirs, profile) = reference.Run(2, profile: true);
        Assert.Equal(2, ours.WallMs.Length);
        Assert.Equal(2, theirs.WallMs.Length);
        Assert.All(ours.WallMs.Concat(theirs.WallMs), t => Assert.True(t > 0));
        Assert.NotNull(profile);
        Assert.Contains("backward", profile.PhasesMs.Keys);
        Assert.Contains(profile.Ops, o => o.Name == "aten::addmm");
    }

    [Fact]
    public void Profile_splits_our_step_into_phases_and_ops()
    {
        using var bench = new PretrainStepBench(Micro, "videomae", batch: 2, VideoSSL.Torch.Device.CPU, bf16: false, AdamWKernel.Auto, setToNone: null);
        bench.Run(1);
        var (run, profile) = bench.Profile(2);
        foreach (var phase in new[] { "target", "encoder", "decoder", "loss", "backward", "optimizer", "zero_grad", "scope_dispose" })
        {
            Assert.True(profile.PhasesMs.TryGetValue(phase, out var ms) && ms >= 0, $"phase {phase} missing");
        }
        // The phases and "other" account for the whole step.
        Assert.Equal(run.WallMs.Average(), profile.PhasesMs.Values.Sum(), 3);
        Assert.Contains(profile.Ops, o => o.Name == "aten::addmm" && o.Count > 0);
    }

    [Fact]
    public void Profile_splits_a_vjepa_step_into_its_own_phases()
    {
        var config = new VideoMAEConfig { Encoder = VideoSSL.Models.ModelRegistry.Resolve("vit_micro", e => e with { NumFrames = 4, ImgSize = 32, PatchSize = 8 }) };
        using var bench = new PretrainStepBench(config, "vjepa2", batch: 2, VideoSSL.Torch.Device.CPU, bf16: false, AdamWKernel.Auto, setToNone: null);
        Assert.True(bench.ShapesVaryPerStep);
        bench.Run(1);
        var (run, profile) = bench.Profile(2);
        foreach (var phase in new[] { "masks", "target", "encoder", "predictor", "loss", "backward", "optimizer" })
        {
            Assert.True(profile.PhasesMs.TryGetValue(phase, out var ms) && ms >= 0, $"phase {phase} missing");
        }
        Assert.False(profile.PhasesMs.ContainsKey("decoder"));
        Assert.Equal(run.WallMs.Average(), profile.PhasesMs.Values.Sum(), 3);
    }

    // Supervised pretraining reads labels the bench has no data for: it steps on class 0 for every row, with a
    // 400-class head when no section is given (the method itself has no class count).
    [Fact]
    public void The_supervised_method_steps_on_bench_labels()
    {
        var config = new VideoMAEConfig { Encoder = VideoSSL.Models.ModelRegistry.Resolve("vit_micro", e => e with { NumFrames = 4, ImgSize = 32, PatchSize = 16 }) };
        using var bench = new PretrainStepBench(config, "supervised", batch: 2, VideoSSL.Torch.Device.CPU, bf16: false, AdamWKernel.Auto, setToNone: null);
        var run = bench.Run(2);
        Assert.All(run.WallMs, t => Assert.True(t > 0));
        using var one = new PretrainStepBench(config, "supervised", batch: 2, VideoSSL.Torch.Device.CPU, bf16: false, AdamWKernel.Auto, setToNone: null,
            section: new SupervisedSettings { NumClasses = 1 });
        Assert.Equal(399 * (config.Encoder.EmbedDim + 1), bench.ParameterCount - one.ParameterCount);
    }

    [Fact]
    public void A_multi_view_method_steps_on_one_random_tensor_per_view()
    {
        var encoder = new VideoMAEConfig { Encoder = VideoSSL.Models.ModelRegistry.Resolve("vit_micro_divst", e => e with { ImgSize = 32, PatchSize = 16 }) };
        var svt = new SvtSettings
        {
            OutDim = 16, HiddenDim = 32, BottleneckDim = 8, GlobalFrames = [4, 8], GlobalSize = 32, LocalFrames = [2, 4], LocalSize = 16,
        };
        using var bench = new PretrainStepBench(encoder, "svt", batch: 2, VideoSSL.Torch.Device.CPU, bf16: false, AdamWKernel.Auto, setToNone: null, section: svt);
        Assert.Equal([("global0", 4, 32), ("global1", 8, 32), ("local0", 2, 16), ("local1", 4, 16)], bench.ViewShapes!);
        var (run, profile) = bench.Profile(2);
        Assert.All(run.WallMs, t => Assert.True(t > 0));
        foreach (var phase in new[] { "student", "teacher", "loss", "backward", "optimizer" })
        {
            Assert.True(profile.PhasesMs.TryGetValue(phase, out var ms) && ms >= 0, $"phase {phase} missing");
        }
        // The teacher gets no gradients: what the bench trains is the student alone.
        using var model = new SvtModel(encoder.Encoder, svt);
        Assert.Equal(model.Student.ParameterCount(true), bench.ParameterCount);
        using var clip = new PretrainStepBench(Micro, "videomae", batch: 1, VideoSSL.Torch.Device.CPU, bf16: false, AdamWKernel.Auto, setToNone: null);
        Assert.Null(clip.ViewShapes);
    }

    [Fact]
    public void Training_flops_count_encoder_on_visible_and_decoder_on_all_tokens()
    {
        // vit_micro at 4x32: 2x2x2 = 8 tokens, 90% tube mask -> 3 of 4 per slice masked: 6 masked, 2 visible.
        var c = Micro;
        var e = c.Encoder;
        static double Block(double n, double d, double h) => (2 * n * d * 3 * d) + (4 * n * n * d) + (2 * n * d * d) + (4 * n * d * h);
        var forward = (2.0 * 8 * e.EmbedDim * e.PatchValues) + (e.Depth * Block(2, e.EmbedDim, e.MlpHiddenDim))
            + (2.0 * 2 * e.EmbedDim * c.DecoderDim) + (c.DecoderDepth * Block(8, c.DecoderDim, 4 * c.DecoderDim)) + (2.0 * 6 * c.DecoderDim * e.PatchValues);
        Assert.Equal(3 * forward * 5, PretrainStepBench.TrainingFlops(c, 5), 6);
    }

    [Theory]
    [InlineData("NVIDIA H100 80GB HBM3", 989)]
    [InlineData("NVIDIA H100 PCIe", 756)]
    [InlineData("NVIDIA H200", 989)]
    [InlineData("NVIDIA A100-SXM4-80GB", 312)]
    [InlineData("Some Future GPU", 0)]
    public void Peak_bf16_is_looked_up_from_the_device_name(string name, double tflops) =>
        Assert.Equal(tflops, BenchPretrainCommand.PeakBf16Tflops(name));

    [Fact]
    public void Bad_options_name_the_option()
    {
        Assert.Contains("--zero-grad", Assert.Throws<ArgumentException>(() => BenchPretrainCommand.ParseZeroGrad("sometimes")).Message, StringComparison.Ordinal);
        Assert.Contains("--adamw", Assert.Throws<ArgumentException>(() => BenchPretrainCommand.ParseKernel("sgd")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_option_times_the_step_of_that_recipe_with_its_sets()
    {
        // The V-JEPA micro quick start, as `pretrain` would build it: its method, predictor and encoder shape, batch from --set.
        var path = Path.Combine(RepoPaths.Root, "experiments", "quickstart", "vjepa_micro_synth.json");
        var config = PretrainCommand.WithMethodDefaults(VideoSSL.Training.Config.ConfigLoader.Load<VideoSSL.Training.Config.PretrainConfig>(path, ["vjepa.pred_depth=1"]));
        long parameters;
        using (VideoSSL.Torch.Torch.NewScope())
        {
            parameters = PretrainCommand.CreateTask(config).Model.ParameterCount(true);
        }
        using var run = new CliProcess(null, "bench", "pretrain", "--config", path, "--set", "vjepa.pred_depth=1", "--set", "train.batch_size=2", "--steps", "1", "--threads", "1");
        Assert.True(run.Wait(TimeSpan.FromMinutes(2)) == 0, run.Err);
        Assert.Contains("vit_micro 8x64, 64 tokens, vjepa, batch 2, cpu", run.Out, StringComparison.Ordinal);
        Assert.Contains($"{parameters:N0} parameters", run.Out, StringComparison.Ordinal);
        // The registry default of the same method is a different model: the config's predictor is what was timed.
        using var defaults = new CliProcess(null, "bench", "pretrain", "--method", "vjepa", "--model", "vit_micro", "--size", "64", "--frames", "8", "--batch", "2", "--steps", "1", "--threads", "1");
        Assert.True(defaults.Wait(TimeSpan.FromMinutes(2)) == 0, defaults.Err);
        Assert.DoesNotContain($"{parameters:N0} parameters", defaults.Out, StringComparison.Ordinal);

        using var clash = new CliProcess(null, "bench", "pretrain", "--config", path, "--model", "vit_base");
        Assert.Equal(1, clash.Wait(TimeSpan.FromMinutes(1)));
        Assert.Equal("error: --model and --config: the config gives the method and model; change them with --set", clash.Err.Trim());
        using var stray = new CliProcess(null, "bench", "pretrain", "--set", "train.batch_size=2");
        Assert.Equal(1, stray.Wait(TimeSpan.FromMinutes(1)));
        Assert.Contains("--set needs --config", stray.Err, StringComparison.Ordinal);

        if (!VideoSSL.Torch.Torch.CudaIsAvailable)
        {
            // A published recipe asks for CUDA: one line naming the key, not libtorch's backend listing from the first tensor.
            var cudaRecipe = Path.Combine(RepoPaths.Root, "experiments", "videomae", "k400_vit_small_16x4_e1600.json");
            using var cuda = new CliProcess(null, "bench", "pretrain", "--config", cudaRecipe, "--steps", "1");
            Assert.Equal(1, cuda.Wait(TimeSpan.FromMinutes(1)));
            Assert.Equal($"error: {cudaRecipe}: train.device=cuda, but this libtorch is a CPU build: pass --device cpu", cuda.Err.Trim());
        }
    }

    [Fact]
    public void Selftest_command_prints_each_check_and_exits_zero_on_cpu()
    {
        using var output = new StringWriter();
        Assert.Equal(0, SelftestCommand.Run(VideoSSL.Torch.Device.CPU, output));
        var text = output.ToString();
        Assert.Contains("transfer", text, StringComparison.Ordinal);
        Assert.Contains("skipped", text, StringComparison.Ordinal);
        Assert.Contains("0 failed", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Selftest_on_a_missing_cuda_device_is_one_clear_error()
    {
        if (VideoSSL.Torch.Torch.CudaDeviceCount > 0)
        {
            return; // a machine with a GPU runs the CUDA checks instead (CudaTests)
        }
        using var output = new StringWriter();
        var e = Assert.Throws<NotSupportedException>(() => SelftestCommand.Run(VideoSSL.Torch.Device.CUDA(0), output));
        Assert.Contains("selftest --device cuda:0", e.Message, StringComparison.Ordinal);
    }
}
