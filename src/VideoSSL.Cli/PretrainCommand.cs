using System.CommandLine;
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
        var command = new Command("pretrain", "Self-supervised pretraining (VideoMAE, VideoMAE V2)") { config, set, runDir, resume };
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
        if (device.IsCuda && !Torch.Torch.CudaIsAvailable)
        {
            throw new ConfigException($"train.device={config.Train.Device}, but this libtorch {(Torch.Torch.IsCudaBuild ? "sees no CUDA device" : "is a CPU build")}: use --set train.device=cpu");
        }
        if (config.Train.Threads > 0)
        {
            Torch.Torch.NumThreads = config.Train.Threads;
        }
        Torch.Torch.ManualSeed((ulong)config.Seed);
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
        var dataset = OpenDataset(config.Data, "train", Console.WriteLine);
        var pipeline = VideoPipelines.CreateWriter(new VideoPipelineOptions
        {
            Protocol = PipelineProtocol.Pretrain,
            Frames = config.Data.NumFrames,
            Stride = config.Data.SamplingRate,
            InputSize = config.Data.InputSize,
            Flip = config.Data.Flip,
            Repeats = config.Data.NumSample,
        });
        var loader = new ClipLoader(dataset, pipeline, new ClipLoaderOptions
        {
            BatchSize = config.Train.BatchSize,
            Workers = config.Data.Workers,
            PrefetchBatches = config.Data.Prefetch,
            Seed = (int)config.Seed,
            MaxFailureFraction = config.Data.MaxFailedShare,
            RecycleBatchBuffers = true,  // the trainer copies each batch into a tensor before asking for the next
        }, Console.WriteLine);
        Console.WriteLine($"data: {dataset.Count} videos, {loader.BatchesPerEpoch} batches of {config.Train.BatchSize} per epoch");

        using var task = new VideoMAETask(MethodConfig(config), config.Seed);
        task.Model.To(device);
        var manifest = ManifestInfo.Create(config.Seed, "pretrain", Environment.GetCommandLineArgs(), device.ToString());
        using var run = RunDirectory.Open(runDir, config.Name, config, overrides, manifest, resume, resumeCheckpoint);
        dataset.SaveClassIndex(Path.Combine(run.Path, "class_index.json"));
        Console.WriteLine($"run folder: {run.Path}");
        var trainer = new Pretrainer(config, task, loader, run, device, RunPlotting.Hooks(run, stop));
        var result = trainer.Run(run.ResumeCheckpoint);
        if (result.Interrupted)
        {
            Console.WriteLine($"stopped by {stop?.Signal} at step {result.Steps}; checkpoint: {run.LastCheckpoint}");
            Console.WriteLine($"resume with: {ResumeCommand("pretrain", configPath, overrides, run.Path)}");
            return result;
        }
        Console.WriteLine($"done: {result.Steps} steps in {result.Elapsed:hh\\:mm\\:ss}, {result.ClipsPerSecond:F1} clips/s, final loss {result.FinalLoss:F4}");
        Console.WriteLine($"checkpoint: {run.LastCheckpoint}");
        return result;
    }

    /// <summary>The command line that continues a run: the same config and overrides, the run folder, --resume.</summary>
    public static string ResumeCommand(string verb, string configPath, IReadOnlyList<string> overrides, string runPath) =>
        string.Join(' ', (string[])["videossl", verb, Quote(configPath), .. overrides.SelectMany(o => (string[])["--set", Quote(o)]), "--run-dir", Quote(runPath), "--resume"]);

    // POSIX shell quoting, only where needed.
    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c, StringComparison.Ordinal))
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    public static VideoMAEConfig MethodConfig(PretrainConfig config)
    {
        var v2 = config.Method switch
        {
            "videomae" => false,
            "videomae_v2" => true,
            _ => throw new ConfigException($"unknown method '{config.Method}' (videomae, videomae_v2)"),
        };
        if (!ModelRegistry.Names.Contains(config.Model.Encoder))
        {
            throw new ConfigException($"model.encoder '{config.Model.Encoder}' is not a registered model ({string.Join(", ", ModelRegistry.Names)})");
        }
        var m = config.Model;
        var encoder = ModelRegistry.Resolve(m.Encoder, e => ModelSize.Apply(e, m.EmbedDim, m.Depth, m.NumHeads, m.MlpRatio) with
        {
            ImgSize = m.ImgSize,
            NumFrames = m.Frames,
            TubeletSize = m.Tubelet,
            PatchSize = m.Patch,
            DropPathRate = m.DropPath,
        });
        var methodConfig = new VideoMAEConfig
        {
            Encoder = encoder,
            DecoderDim = m.DecoderDim,
            DecoderDepth = m.DecoderDepth,
            DecoderHeads = m.DecoderHeads,
            MaskRatio = config.Mask.Ratio,
            NormPixLoss = m.NormPixLoss,
            DecoderMaskRatio = v2 ? config.Mask.DecoderRatio : 0,
        };
        if (config.Data.NumFrames != m.Frames || config.Data.InputSize != m.ImgSize)
        {
            throw new ConfigException($"data.num_frames/input_size ({config.Data.NumFrames}/{config.Data.InputSize}) must equal model.frames/img_size ({m.Frames}/{m.ImgSize})");
        }
        return methodConfig;
    }

    /// <summary>Opens a split; the synthetic format is generated into data.root on first use.</summary>
    public static VideoDataset OpenDataset(DataSection data, string split, Action<string> log)
    {
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
