using System.CommandLine;
using VideoSSL.Data;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Training;
using VideoSSL.Training.Config;

namespace VideoSSL.Cli;

internal static class PretrainCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("config") { Description = "experiment JSON (see experiments/)" };
        var set = new Option<string[]>("--set") { Description = "override a config key: --set train.base_lr=1e-4 (repeatable)", AllowMultipleArgumentsPerToken = false };
        var runDir = new Option<string?>("--run-dir") { Description = "run folder (default runs/NAME-TIMESTAMP)" };
        var resume = new Option<string?>("--resume") { Description = "continue a run: from CHECKPOINT, or from --run-dir's last checkpoint", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("pretrain", $"Self-supervised pretraining: method {string.Join(", ", MethodRegistry.Names)}") { config, set, runDir, resume };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var resuming = parse.GetResult(resume) is not null;
            using var stop = StopSignal.Listen();
            var result = Run(parse.GetValue(config)!, parse.GetValue(set) ?? [], parse.GetValue(runDir), resuming, parse.GetValue(resume), stop);
            return result.Interrupted ? stop.ExitCode : 0;
        }));
        return command;
    }

    /// <param name="stop">Raised by SIGINT/SIGTERM: the run stops at the next step with a checkpoint and prints how to resume.</param>
    public static Pretrainer.Result Run(string configPath, IReadOnlyList<string> overrides, string? runDir, bool resume, string? resumeCheckpoint, StopSignal? stop = null)
    {
        var config = ConfigLoader.Load<PretrainConfig>(configPath, overrides);
        if (resumeCheckpoint is not null)
        {
            Checkpoint.CheckResumable(resumeCheckpoint);
        }
        if (resume && runDir is null && resumeCheckpoint is not null)
        {
            // `--resume runs/x/checkpoints/last.safetensors` continues runs/x; a checkpoint outside a run folder needs --run-dir.
            runDir = RunDirectory.FolderOf(resumeCheckpoint)
                ?? throw new ConfigException($"--resume {resumeCheckpoint}: the file is not in a run folder's checkpoints/; pass --run-dir for the run to continue");
        }
        if (resume && runDir is null)
        {
            throw new ConfigException("--resume needs --run-dir (or a checkpoint path inside a run folder)");
        }
        var device = Device.Parse(config.Train.Device);
        using var dist = DistributedCommands.Join(device.IsCuda, Console.WriteLine);
        device = dist.IsDistributed && device.IsCuda ? Device.CUDA(dist.LocalRank) : device;
        CliErrors.RequireAvailable(device, $"train.device={config.Train.Device}", "use --set train.device=cpu");
        Torch.Torch.UseThreads(config.Train.Threads);
        Torch.Torch.ManualSeed((ulong)Seeds.ForRank(config.Seed, dist.Rank));
        Torch.Torch.SetDeterministic(!device.IsCuda);
        if (device.IsCuda)
        {
            Torch.Torch.SetAllowTf32(true);
        }

        Console.WriteLine($"videossl pretrain {configPath} ({config.Method}, {config.Model.Encoder}, seed {config.Seed})");
        foreach (var line in ConfigLoader.Describe(config))
        {
            Console.WriteLine($"  {line}");
        }
        // The task (and so the method section's checks) before the data: a bad svt.* or vjepa.* value stops here,
        // not after a synthetic set has been written. A method that asks for named views (SVT) gets the multi-view pipeline.
        config = WithMethodDefaults(config);
        using var task = CreateTask(config);
        if (device.IsCuda)
        {
            ConfigureCudnnAttention(config.Train.CudnnAttention, task.ShapesVaryPerStep, Console.WriteLine);
        }
        task.JoinRanks(dist, config.Data.NumSample);
        if (!dist.IsMain)
        {
            dist.Barrier();  // rank 0 writes a missing synthetic data set first
        }
        var dataset = OpenDataset(config.Data, "train", Console.WriteLine);
        // Before the model is built: nothing on disk, or more missing than data.max_failed_share, stops here.
        var failureBudget = dataset.FailureBudget(config.Data.MaxFailedShare);
        if (config.Supervised is { } supervised && dataset.ClassCount > supervised.NumClasses)
        {
            throw new ConfigException($"supervised.num_classes = {supervised.NumClasses}, but the training data has {dataset.ClassCount} classes");
        }
        if (dist.IsMain)
        {
            dist.Barrier();
        }
        var pipelineOptions = new VideoPipelineOptions
        {
            Protocol = PipelineProtocol.Pretrain,
            Frames = config.Data.NumFrames,
            Stride = config.Data.SamplingRate,
            InputSize = config.Data.InputSize,
            Flip = config.Data.Flip,
            Repeats = config.Data.NumSample,
            PretrainCrop = config.Data.Crop,
            MinCropScale = config.Data.MinCropScale,
            CropAspect = config.Data.CropAspect,
            Render = Renderer(config.Data),
        };
        if (task.Views is not null && config.Data.NumSample != 1)
        {
            throw new ConfigException($"data.num_sample = {config.Data.NumSample}: method {config.Method} cuts its views from one window per video; repeated augmentation does not apply (use 1)");
        }
        var pipeline = task.Views is { } viewSpec
            ? MultiViewPipelines.CreateWriter(pipelineOptions, viewSpec)
            : VideoPipelines.CreateWriter(pipelineOptions);
        var loader = new ClipLoader(dataset, pipeline, new ClipLoaderOptions
        {
            BatchSize = config.Train.BatchSize,
            Workers = config.Data.Workers,
            PrefetchBatches = config.Data.Prefetch,
            Seed = (int)config.Seed,
            MaxFailureFraction = failureBudget,
            RecycleBatchBuffers = true,  // the trainer copies each batch into a tensor before asking for the next
            ShardRank = dist.Rank,
            ShardCount = dist.WorldSize,
        }, Console.WriteLine);
        Console.WriteLine($"data: {dataset.Count} videos, {loader.BatchesPerEpoch} batches of {config.Train.BatchSize} per epoch");
        if (task.Views is { } spec)
        {
            Console.WriteLine($"views per clip (one decoded window of {config.Data.NumFrames}x{config.Data.SamplingRate} frames at 30 fps): {string.Join(", ", spec.Views.Select(v => $"{v.Name} {v.Frames}x{v.Size}"))}");
        }

        task.Model.To(device);
        var manifest = ManifestInfo.Create(config.Seed, "pretrain", Environment.GetCommandLineArgs(), device.ToString());
        // Only rank 0 writes the run folder (data-parallel ranks share it and read its checkpoints).
        using var run = dist.IsMain ? RunDirectory.Open(runDir, config.Name, config, overrides, manifest, resume, resumeCheckpoint) : null;
        if (run is not null)
        {
            dataset.SaveClassIndex(Path.Combine(run.Path, "class_index.json"));
            Console.WriteLine($"run folder: {run.Path}");
        }
        var trainer = new Pretrainer(config, task, loader, run, device, run is null ? new PretrainHooks { Stop = stop } : RunPlotting.Hooks(run, stop), distributed: dist);
        var checkpoint = run is not null ? run.ResumeCheckpoint : resume ? resumeCheckpoint ?? ExistingOrNull(Path.Combine(runDir!, "checkpoints", "last.safetensors")) : null;
        var result = trainer.Run(checkpoint);
        if (result.Interrupted)
        {
            Console.WriteLine($"stopped by {stop?.Description} at step {result.Steps}; checkpoint: {run?.LastCheckpoint}");
            if (run is not null)
            {
                Console.WriteLine($"resume with: {ResumeCommand("pretrain", configPath, overrides, run.Path)}");
            }
            return result;
        }
        Console.WriteLine($"done: {result.Steps} steps in {result.Elapsed:hh\\:mm\\:ss}, {result.ClipsPerSecond:F1} clips/s, final loss {result.FinalLoss:F4}");
        Console.WriteLine($"checkpoint: {run?.LastCheckpoint}");
        return result;
    }

    private static string? ExistingOrNull(string path) => File.Exists(path) ? path : null;

    /// <summary>The command line that continues a run: the same config and overrides, the run folder, --resume.</summary>
    public static string ResumeCommand(string verb, string configPath, IReadOnlyList<string> overrides, string runPath) =>
        string.Join(' ', (string[])["videossl", verb, Quote(configPath), .. overrides.SelectMany(o => (string[])["--set", Quote(o)]), "--run-dir", Quote(runPath), "--resume"]);

    // POSIX shell quoting, only where needed.
    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c, StringComparison.Ordinal))
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The method's own section filled with its defaults, so the saved config says what ran.</summary>
    public static PretrainConfig WithMethodDefaults(PretrainConfig config)
    {
        var method = Method(config);
        return config.Method switch
        {
            "vjepa" or "vjepa2" => config with { Vjepa = (config.Vjepa ?? (VJepaSettings)method.DefaultSection!).Resolved() },
            "svt" => config with { Svt = config.Svt ?? (SvtSettings)method.DefaultSection! },
            SupervisedTask.MethodName => config with { Supervised = config.Supervised ?? (SupervisedSettings)method.DefaultSection! },
            _ => config,
        };
    }

    /// <summary>
    /// train.cudnn_attention: whether SDPA may use cuDNN's kernel (auto: not when the method's shapes change every step).
    /// Measured on an H200 with `bench pretrain --bf16`: V-JEPA ViT-L 299 -> 210 ms per step without cuDNN, V-JEPA 2
    /// 437 -> 332 ms; VideoMAE ViT-B (fixed shapes) 44.4 with cuDNN against 47.7 ms without.
    /// </summary>
    internal static bool ConfigureCudnnAttention(string setting, bool shapesVary, Action<string> log)
    {
        var enabled = CudnnAttentionEnabled(setting, shapesVary);
        if (!Torch.Torch.SetCudnnAttention(enabled))
        {
            return false;
        }
        if (!enabled)
        {
            log($"cuDNN attention off (train.cudnn_attention={setting}{(setting == "auto" ? ": token counts change every step" : string.Empty)})");
        }
        return enabled;
    }

    internal static bool CudnnAttentionEnabled(string setting, bool shapesVary) => setting switch
    {
        "on" => true,
        "off" => false,
        _ => !shapesVary,
    };

    /// <summary>The task of the config's method from the method registry, with the encoder the config describes.</summary>
    public static IPretrainTask CreateTask(PretrainConfig config)
    {
        var method = Method(config);
        var encoder = EncoderConfig(config, method);
        object? Section(Type type) =>
            type == typeof(VideoMAEConfig) ? VideoMAESection(config, encoder)
            : type == typeof(VJepaSettings) ? config.Vjepa
            : type == typeof(SvtSettings) ? config.Svt
            : type == typeof(SupervisedSettings) ? config.Supervised
            : null;
        try
        {
            return method.Create(new MethodInputs(config.Model.Encoder, encoder, config.Seed, Section));
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"method {config.Method}: {e.Message}", e);
        }
    }

    private static PretrainMethod Method(PretrainConfig config)
    {
        if (!MethodRegistry.Names.Contains(config.Method))
        {
            throw new ConfigException($"unknown method '{config.Method}' ({string.Join(", ", MethodRegistry.Names)})");
        }
        if (config.Vjepa is not null && config.Method is not ("vjepa" or "vjepa2"))
        {
            throw new ConfigException($"the vjepa section belongs to methods vjepa and vjepa2, not '{config.Method}'");
        }
        if (config.Svt is not null && config.Method != "svt")
        {
            throw new ConfigException($"the svt section belongs to method svt, not '{config.Method}'");
        }
        if (config.Supervised is not null && config.Method != SupervisedTask.MethodName)
        {
            throw new ConfigException($"the supervised section belongs to method supervised, not '{config.Method}'");
        }
        return MethodRegistry.Get(config.Method);
    }

    /// <summary>Registry size, then the method's choices (qkv bias, position embedding, init), then the config's model keys.</summary>
    public static VideoViTConfig EncoderConfig(PretrainConfig config, PretrainMethod method)
    {
        if (!ModelRegistry.Names.Contains(config.Model.Encoder))
        {
            throw new ConfigException($"model.encoder '{config.Model.Encoder}' is not a registered model ({string.Join(", ", ModelRegistry.Names)})");
        }
        var m = config.Model;
        if (config.Data.NumFrames != m.Frames || config.Data.InputSize != m.ImgSize)
        {
            throw new ConfigException($"data.num_frames/input_size ({config.Data.NumFrames}/{config.Data.InputSize}) must equal model.frames/img_size ({m.Frames}/{m.ImgSize})");
        }
        var encoder = method.EncoderDefaults(ModelSize.Apply(ModelRegistry.Get(m.Encoder), m.EmbedDim, m.Depth, m.NumHeads, m.MlpRatio)) with
        {
            ImgSize = m.ImgSize,
            NumFrames = m.Frames,
            TubeletSize = m.Tubelet,
            PatchSize = m.Patch,
            DropPathRate = m.DropPath,
            GradCheckpointing = m.GradCheckpointing,
        };
        encoder = encoder with
        {
            PosEmbed = m.PosEmbed ?? encoder.PosEmbed,
            QkvBias = m.QkvBias ?? encoder.QkvBias,
            Rope = m.Rope ?? encoder.Rope,
        };
        try
        {
            encoder.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(e.Message, e);
        }
        return encoder;
    }

    /// <summary>VideoMAE's settings from mask.* and model.decoder_* (V2's decoder mask only for videomae_v2).</summary>
    public static VideoMAEConfig VideoMAESection(PretrainConfig config, VideoViTConfig encoder) => new()
    {
        Encoder = encoder,
        DecoderDim = config.Model.DecoderDim,
        DecoderDepth = config.Model.DecoderDepth,
        DecoderHeads = config.Model.DecoderHeads,
        MaskRatio = config.Mask.Ratio,
        NormPixLoss = config.Model.NormPixLoss,
        DecoderMaskRatio = config.Method == "videomae_v2" ? config.Mask.DecoderRatio : 0,
    };

    /// <summary>VideoMAE's task settings of a config (kept for callers that build a VideoMAE model directly).</summary>
    public static VideoMAEConfig MethodConfig(PretrainConfig config) => VideoMAESection(config, EncoderConfig(config, Method(config)));

    /// <summary>The procedural format's renderer (null for formats read from files).</summary>
    public static Func<VideoSample, Clip>? Renderer(DataSection data)
    {
        if (data.Format != "procedural")
        {
            return null;
        }
        var options = data.Procedural.ToOptions();
        return sample => ProceduralDataset.Render(sample, options);
    }

    /// <summary>Opens a split; the synthetic format is generated into data.root on first use, the procedural pool is rendered on the fly.</summary>
    public static VideoDataset OpenDataset(DataSection data, string split, Action<string> log)
    {
        if (data.Format == "procedural")
        {
            return ProceduralDataset.Create(data.Procedural.ToOptions());
        }
        if (data.Format != "synthetic")
        {
            // A blank data.labels means "none" (Kinetics: classes from the CSV; SSv2: the labels file beside the split), never a path.
            return DatasetFactory.Open(data.Format, data.Root, data.Annotations, string.IsNullOrEmpty(data.Labels) ? null : data.Labels, log);
        }
        var root = string.IsNullOrEmpty(data.Root) ? Path.Combine("data", "synth", "kinetics") : data.Root;
        SyntheticDatasetWriter.EnsureKinetics(root, data.Synthetic.ToDatasetOptions(), log);
        var csv = Path.Combine(root, $"{split}.csv");
        return KineticsCsv.Read(csv, Path.Combine(root, split), log: log);
    }
}
