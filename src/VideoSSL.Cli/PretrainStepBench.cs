using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using VideoSSL.Methods;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;
using static VideoSSL.Torch.Torch;

namespace VideoSSL.Cli;

/// <summary>Times of one batch of steps: wall and process-CPU milliseconds per step, page faults per step.</summary>
internal sealed record StepRun(double[] WallMs, double[] CpuMs, double MinorFaultsPerStep, double MajorFaultsPerStep, double GcPauseMsPerStep = 0, int Gen0 = 0, int Gen2 = 0)
{
    public double MinWall => WallMs.Min();
    public double MinCpu => CpuMs.Min();
    public double MedianWall => Median(WallMs);

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}

/// <summary>Where one step's time went: exclusive milliseconds per phase, and self time per operator.</summary>
internal sealed record StepProfile(Dictionary<string, double> PhasesMs, List<OpProfile> Ops);

/// <summary>
/// One pretraining step of any registered method as the training loop runs it (loss, backward, AdamW, zero_grad, scope), on a
/// fixed random batch, with the model built once. The reference in tools/reference/bench_videomae_step.py runs
/// the official model's step the same way.
/// </summary>
internal sealed class PretrainStepBench : IDisposable
{
    private readonly IPretrainTask _task;
    private readonly SchedulePlan _plan = new(1000, 100, 0);
    private readonly IReadOnlyDictionary<string, ScalarSchedule> _schedules;
    private readonly AdamW _optimizer;
    private readonly Dictionary<string, Tensor> _views;
    private readonly Device _device;
    private readonly bool _bf16;
    private readonly bool? _setToNone;
    private long _step;

    // Class 0 for every row, for a method that reads labels (supervised): the step's cost does not depend on which.
    private readonly int[]? _labels;

    /// <param name="method">A registered method; VideoMAE's settings come from <paramref name="config"/>, other methods use
    /// <paramref name="section"/> or, when null, their registry defaults (SVT's: the official view set).</param>
    public PretrainStepBench(VideoMAEConfig config, string method, int batch, Device device, bool bf16, AdamWKernel kernel, bool? setToNone, object? section = null)
        : this(config, () =>
        {
            var registered = MethodRegistry.Get(method);
            var encoder = registered.EncoderDefaults(config.Encoder);
            // Supervised pretraining has no class count of its own: a K400-sized head, whose size the step barely feels.
            var defaults = method == SupervisedTask.MethodName ? new SupervisedSettings { NumClasses = 400 } : registered.DefaultSection;
            return registered.Create(new MethodInputs(encoder.Name, encoder, 0, t => t == typeof(VideoMAEConfig) ? config with { Encoder = encoder } : section ?? defaults));
        }, batch, device, bf16, kernel, setToNone)
    {
    }

    /// <param name="config">The encoder's shape (clip size) and, for VideoMAE, its settings.</param>
    /// <param name="createTask">Builds the task after the seed is set, so two benches of one config start from the same weights.</param>
    public PretrainStepBench(VideoMAEConfig config, Func<IPretrainTask> createTask, int batch, Device device, bool bf16, AdamWKernel kernel, bool? setToNone)
    {
        ManualSeed(0);
        Config = config;
        _device = device;
        _bf16 = bf16;
        _setToNone = setToNone;
        _task = createTask();
        _schedules = _task.Schedules(_plan);
        _task.Model.To(device);
        // The official pretraining recipe: weight decay 0.05, betas (0.9, 0.95).
        _optimizer = new AdamW(_task.ParamGroups(0.05), 1e-4, 0.9, 0.95) { Kernel = kernel };
        var e = config.Encoder;
        // A method with views (SVT) gets one random tensor per view at the method's sizes; the others one clip.
        ViewShapes = _task.Views?.Views.Select(v => (v.Name, v.Frames, v.Size)).ToList();
        _views = ViewShapes is null
            ? new() { [PretrainBatch.ClipsView] = Randn([batch, 3, e.NumFrames, e.ImgSize, e.ImgSize], device: device).DetachFromScope() }
            : ViewShapes.ToDictionary(v => v.Name, v => Randn([batch, 3, v.Frames, v.Size, v.Size], device: device).DetachFromScope(), StringComparer.Ordinal);
        _labels = _task.NeedsLabels ? new int[batch] : null;
    }

    /// <summary>The views of a multi-view method (name, frames, side), or null for one clip of the encoder's shape.</summary>
    public IReadOnlyList<(string Name, int Frames, int Size)>? ViewShapes { get; }

    public VideoMAEConfig Config { get; }

    public bool ShapesVaryPerStep => _task.ShapesVaryPerStep;

    public long ParameterCount => _task.Model.ParameterCount(true);

    private void Step()
    {
        var scope = NewScope();
        try
        {
            Tensor loss;
            using (_bf16 ? Autocast(_device) : null)
            {
                // Mask drawing and the host-to-tensor mask copies land in "other".
                loss = _task.Loss(new PretrainBatch(_views, _step) { Labels = _labels }).Loss;
            }
            var context = new OptimizerStepContext(_step, _plan, _schedules.ToDictionary(kv => kv.Key, kv => kv.Value.At(_step)));
            _step++;
            using (Profiling.Phase("backward"))
            {
                loss.Backward();
                ActivationCheckpoint.Backward();
            }
            using (Profiling.Phase("optimizer"))
            {
                _task.BeforeOptimizerStep(context);
                _optimizer.Step();
            }
            using (Profiling.Phase("zero_grad"))
            {
                _optimizer.ZeroGrad(_setToNone);
            }
            // EMA teachers (V-JEPA) update here, as in the training loop.
            _task.AfterOptimizerStep(context);
        }
        finally
        {
            using (Profiling.Phase("scope_dispose"))
            {
                scope.Dispose();
            }
        }
    }

    private void Sync()
    {
        if (_device.IsCuda)
        {
            CudaSynchronize(_device.Index);
        }
    }

    public StepRun Run(int steps)
    {
        var wall = new double[steps];
        var cpu = new double[steps];
        var faults = ProcessStats.PageFaults();
        var pause = GC.GetTotalPauseDuration();
        var (gen0, gen2) = (GC.CollectionCount(0), GC.CollectionCount(2));
        for (var k = 0; k < steps; k++)
        {
            Sync();
            var cpuStart = ProcessStats.CpuMilliseconds();
            var start = Stopwatch.GetTimestamp();
            Step();
            Sync();
            wall[k] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            cpu[k] = ProcessStats.CpuMilliseconds() - cpuStart;
        }
        var after = ProcessStats.PageFaults();
        return new StepRun(wall, cpu, (after.Minor - faults.Minor) / (double)steps, (after.Major - faults.Major) / (double)steps,
            (GC.GetTotalPauseDuration() - pause).TotalMilliseconds / steps, GC.CollectionCount(0) - gen0, GC.CollectionCount(2) - gen2);
    }

    /// <summary>Phase times over <paramref name="steps"/> steps (per step), then an op table over as many more.</summary>
    public (StepRun Run, StepProfile Profile) Profile(int steps, bool byCaller = false)
    {
        Profiling.StartPhases();
        StepRun run;
        Dictionary<string, double> phases;
        try
        {
            run = Run(steps);
        }
        finally
        {
            phases = Profiling.StopPhases();
        }
        var perStep = phases.ToDictionary(p => p.Key, p => p.Value / steps, StringComparer.Ordinal);
        // Whatever no phase covers: Run's own bookkeeping, autocast entry, loss handles.
        perStep["other"] = run.WallMs.Average() - perStep.Values.Sum();
        Profiling.StartOps(byCaller);
        List<OpProfile> ops;
        try
        {
            Run(steps);
        }
        finally
        {
            ops = Profiling.StopOps();
        }
        var opsPerStep = ops.Select(o => o with { Count = o.Count / steps, SelfMicroseconds = o.SelfMicroseconds / steps, TotalMicroseconds = o.TotalMicroseconds / steps }).ToList();
        return (run, new StepProfile(perStep, opsPerStep));
    }

    /// <summary>
    /// Model FLOPs of one training step (forward + backward = 3 × forward multiply-adds × 2), from the config as
    /// the MFU convention counts them: linear layers, attention matmuls and the patch embedding; norms,
    /// softmax and elementwise ops are not counted.
    /// </summary>
    public static double TrainingFlops(VideoMAEConfig config, int batch)
    {
        var e = config.Encoder;
        double n = e.NumTokens;
        double masked = new TubeMaskGenerator(e.Grid, config.MaskRatio).NumMasked;
        var visible = n - masked;
        double targets = config.DualMasking ? new RunningCellMaskGenerator(e.Grid, config.DecoderMaskRatio).NumKept : masked;
        static double Block(double tokens, double dim, double hidden) =>
            2 * tokens * dim * (3 * dim) + (2 * 2 * tokens * tokens * dim) + (2 * tokens * dim * dim) + (2 * 2 * tokens * dim * hidden);
        var forward = 2 * n * e.EmbedDim * e.PatchValues
            + (e.Depth * Block(visible, e.EmbedDim, e.MlpHiddenDim))
            + (2 * visible * e.EmbedDim * config.DecoderDim)
            + (config.DecoderDepth * Block(visible + targets, config.DecoderDim, (int)(config.DecoderDim * e.MlpRatio)))
            + (2 * targets * config.DecoderDim * e.PatchValues);
        return 3 * forward * batch;
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _task.Dispose();
        foreach (var view in _views.Values)
        {
            view.Dispose();
        }
    }
}

/// <summary>tools/reference/bench_videomae_step.py kept running (--serve), so runs of ours and its can alternate.</summary>
internal sealed class ReferenceStepProcess : IDisposable
{
    private readonly Process _process;

    private ReferenceStepProcess(Process process, string torchVersion, long parameters)
    {
        _process = process;
        TorchVersion = torchVersion;
        Parameters = parameters;
    }

    public string TorchVersion { get; }

    /// <summary>Trainable parameters of the reference model: equal to ours when the transcription matches.</summary>
    public long Parameters { get; }

    /// <summary>Starts the reference for the same model and batch; null (with the reason printed) when it cannot run.</summary>
    public static ReferenceStepProcess? Start(string python, VideoMAEConfig config, int batch, string device, bool bf16, int threads)
    {
        var script = BenchCommand.FindScript("tools/reference/bench_videomae_step.py");
        if (script is null)
        {
            Console.WriteLine("reference: tools/reference/bench_videomae_step.py not found (run from the repository)");
            return null;
        }
        if (config.DualMasking)
        {
            Console.WriteLine("reference: the official VideoMAE model has no dual masking (V2); reference skipped");
            return null;
        }
        var e = config.Encoder;
        var arguments = string.Create(CultureInfo.InvariantCulture,
            $"{script} --serve --embed-dim {e.EmbedDim} --depth {e.Depth} --heads {e.NumHeads} --decoder-dim {config.DecoderDim} --decoder-depth {config.DecoderDepth} --decoder-heads {config.DecoderHeads} --patch {e.PatchSize} --tubelet {e.TubeletSize} --frames {e.NumFrames} --size {e.ImgSize} --batch {batch} --mask-ratio {config.MaskRatio} --device {device} --threads {threads}{(bf16 ? " --bf16" : string.Empty)}");
        Process process;
        try
        {
            process = Process.Start(MallocTcache.AsStarted(new ProcessStartInfo(python, arguments) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false }))!;
        }
        catch (System.ComponentModel.Win32Exception e2)
        {
            Console.WriteLine($"reference not run: {python}: {e2.Message} (Debian: apt-get install python3-torch)");
            return null;
        }
        var ready = process.StandardOutput.ReadLine();
        if (ready is null)
        {
            process.WaitForExit();
            Console.WriteLine($"reference failed to start ({python} exited with {process.ExitCode}; its error output is above)");
            process.Dispose();
            return null;
        }
        using var json = JsonDocument.Parse(ready);
        return new ReferenceStepProcess(process, json.RootElement.GetProperty("torch").GetString() ?? "?", json.RootElement.GetProperty("parameters").GetInt64());
    }

    public (StepRun Run, StepProfile? Profile) Run(int steps, bool profile = false)
    {
        _process.StandardInput.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {steps}{(profile ? " profile" : string.Empty)}"));
        _process.StandardInput.Flush();
        var line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the reference process ended early");
        using var json = JsonDocument.Parse(line);
        var r = json.RootElement;
        double[] Values(string name) => r.GetProperty(name).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var run = new StepRun(Values("steps_ms"), Values("cpu_ms"), r.GetProperty("minor_faults_per_step").GetDouble(), r.GetProperty("major_faults_per_step").GetDouble());
        StepProfile? stepProfile = null;
        if (profile)
        {
            var phases = r.GetProperty("phases_ms").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble(), StringComparer.Ordinal);
            phases["other"] = run.WallMs.Average() - phases.Values.Sum();
            var ops = r.GetProperty("ops").EnumerateArray()
                .Select(o => new OpProfile(o.GetProperty("name").GetString()!, (long)Math.Round(o.GetProperty("count").GetDouble()), o.GetProperty("self_us").GetDouble(), double.NaN))
                .ToList();
            stepProfile = new StepProfile(phases, ops);
        }
        return (run, stepProfile);
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.WriteLine("quit");
            _process.StandardInput.Close();
            if (!_process.WaitForExit(10_000))
            {
                _process.Kill();
            }
        }
        catch (IOException)
        {
        }
        _process.Dispose();
    }
}
