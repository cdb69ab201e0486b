using System.CommandLine;
using System.Text.Json;
using VideoSSL.Data.Datasets;
using VideoSSL.Models;
using VideoSSL.Plots;
using VideoSSL.Data.Loading;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.Serialization;
using VideoSSL.Training;
using VideoSSL.Training.Config;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Cli;

/// <summary>`videossl probe`, `videossl finetune` and `videossl eval`.</summary>
internal static class EvaluationCommands
{
    private const string ClassIndexFile = "class_index.json";

    public static Command CreateProbe()
    {
        var config = new Argument<string>("config") { Description = "probe config (JSON)" };
        var set = SetOption();
        var runDir = new Option<string?>("--run-dir") { Description = "run folder (default runs/NAME-TIMESTAMP)" };
        var command = new Command("probe", "Train a linear, attentive or ridge probe on a frozen encoder and report validation accuracy") { config, set, runDir };
        command.SetAction(parse => CliErrors.Guard(() => Probe(parse.GetValue(config)!, parse.GetValue(set) ?? [], parse.GetValue(runDir))));
        return command;
    }

    public static Command CreateFinetune()
    {
        var config = new Argument<string>("config") { Description = "fine-tune config (JSON)" };
        var set = SetOption();
        var runDir = new Option<string?>("--run-dir") { Description = "run folder (default runs/NAME-TIMESTAMP)" };
        var resume = new Option<string?>("--resume") { Description = "continue the run in --run-dir from its last checkpoint, or from CKPT", Arity = ArgumentArity.ZeroOrOne };
        var noTest = new Option<bool>("--no-test") { Description = "skip the multi-view test of the best checkpoint at the end" };
        var command = new Command("finetune", "Fine-tune a classifier from a pretrained encoder (VideoMAE recipe), then test it with multiple views") { config, set, runDir, resume, noTest };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var resuming = parse.GetResult(resume) is not null;
            using var stop = StopSignal.Listen();
            var outcome = Finetune(parse.GetValue(config)!, parse.GetValue(set) ?? [], parse.GetValue(runDir), resuming, parse.GetValue(resume), !parse.GetValue(noTest), stop);
            return outcome.Result.Interrupted ? stop.ExitCode : 0;
        }));
        return command;
    }

    public static Command CreateEval()
    {
        var config = new Argument<string>("config") { Description = "eval or fine-tune config (JSON)" };
        var checkpoint = new Option<string>("--checkpoint") { Description = "fine-tuned weights (our checkpoint or an official .pth)", Required = true };
        var set = SetOption();
        var outDir = new Option<string?>("--out") { Description = "where the report goes (default: eval/ next to the checkpoint folder)" };
        var command = new Command("eval", "Multi-view test: top-1/top-5/mean class accuracy, predictions.csv, confusion matrix") { config, checkpoint, set, outDir };
        command.SetAction(parse => CliErrors.Guard(() => Eval(parse.GetValue(config)!, parse.GetValue(checkpoint)!, parse.GetValue(set) ?? [], parse.GetValue(outDir))));
        return command;
    }

    private static Option<string[]> SetOption() => new("--set") { Description = "override a config key, e.g. --set train.epochs=10 (repeatable)", AllowMultipleArgumentsPerToken = false };

    internal static void Probe(string path, string[] sets, string? runDir)
    {
        var config = ConfigLoader.Load<ProbeConfig>(path, sets);
        EvalSetup.Validate(path, config.Model, config.Protocol, config.Data, config.Test);
        EvalSetup.ValidateProbe(path, config);
        var device = Setup(config.Train.Device, config.Train.Threads);
        var cache = config.Probe.Kind is "ridge" or "knn" || config.Probe.CacheFeatures;
        using var dist = DistributedCommands.Join(device.IsCuda, Console.WriteLine);
        device = dist.IsDistributed && device.IsCuda ? Device.CUDA(dist.LocalRank) : device;
        var (trainSet, valSet) = OpenSplits(config.Data, config.Val, dist);
        var numClasses = config.Model.NumClasses > 0 ? config.Model.NumClasses : trainSet.ClassCount;
        config = config with { Model = config.Model with { NumClasses = numClasses, DropPath = 0 } };
        PrintConfig(config);

        Torch.Torch.ManualSeed((ulong)config.Seed);
        // A *_divst encoder is TimeSformer's divided ViT (SVT); the rest the joint ViT.
        using var encoder = ModelRegistry.CreateBackbone(EvalSetup.ModelConfig(config.Model));
        Console.WriteLine(config.Init.Length > 0 ? EvalSetup.InitEncoder(encoder, config.Init) : $"encoder: random init (seed {config.Seed}), a baseline");
        encoder.To(device);
        var shard = (dist.Rank, dist.WorldSize);
        // The cache holds one centre view per training video; live training sees the loader's random crops every epoch.
        var trainLoader = cache
            ? EvalSetup.Loader(trainSet, EvalSetup.TestPipeline(config.Data, config.Protocol, 1, 1), config.Data, config.Test.BatchSize, config.Seed, train: false, Console.WriteLine, shard)
            : EvalSetup.Loader(trainSet, EvalSetup.TrainPipeline(config.Data, config.Protocol), config.Data, config.Train.BatchSize, config.Seed, train: true, Console.WriteLine);
        var valLoader = EvalSetup.Loader(valSet, EvalSetup.TestPipeline(config.Data, config.Protocol, config.Test.Clips, config.Test.Crops), config.Data, config.Test.BatchSize, config.Seed, train: false, Console.WriteLine, shard);

        using var run = dist.IsMain ? RunDirectory.Open(runDir, config.Name, config, sets, ManifestInfo.Create(config.Seed, "probe", Environment.GetCommandLineArgs(), device.ToString()), resume: false) : null;
        if (run is not null)
        {
            trainSet.SaveClassIndex(Path.Combine(run.Path, ClassIndexFile));
            Console.WriteLine($"run folder: {run.Path}");
        }
        var result = new Prober(config, encoder, trainLoader, valLoader, numClasses, run, device, distributed: dist).Run();
        if (run is null || result is null)
        {
            return;  // the other ranks helped extract the features; rank 0 fits the head and reports
        }
        Report(Path.Combine(run.Path, "test"), result.LastEval, trainSet.ClassNames);
        RunPlots.Regenerate(run.Path);
        Console.WriteLine($"val acc1 {result.FinalAcc1 * 100:F2}% (final epoch; the validation split is held out, so no epoch is chosen on it); run folder {run.Path}");
    }

    // Rank 0 opens the splits first: it writes a missing synthetic data set, which the other ranks then read.
    private static (VideoDataset Train, VideoDataset Val) OpenSplits(DataSection data, SplitSection val, DistributedContext dist)
    {
        if (!dist.IsMain)
        {
            dist.Barrier();
        }
        var trainSet = EvalSetup.OpenTrain(data, Console.WriteLine);
        var valSet = EvalSetup.OpenVal(data, val, trainSet.ClassIndex, Console.WriteLine);
        if (dist.IsMain)
        {
            dist.Barrier();
        }
        return (trainSet, valSet);
    }

    /// <summary>What a fine-tune run ended with: the loop's result and, when it was tested, the multi-view test of <paramref name="Tested"/>.</summary>
    internal sealed record FinetuneOutcome(Finetuner.Result Result, EvalResult? Test = null, string? Tested = null);

    /// <param name="testWhenStopped">Test even when <paramref name="stop"/> ended the run early (the benchmark's wall-time cap); otherwise the test is skipped.</param>
    internal static FinetuneOutcome Finetune(string path, string[] sets, string? runDir, bool resume, string? resumeFrom, bool test, StopSignal? stop = null, bool testWhenStopped = false)
    {
        var config = ConfigLoader.Load<FinetuneConfig>(path, sets);
        EvalSetup.Validate(path, config.Model, config.Protocol, config.Data, config.Test);
        if (resume && runDir is null && resumeFrom is null)
        {
            throw new ConfigException("--resume needs --run-dir (the run to continue) or a checkpoint path");
        }
        if (resumeFrom is not null)
        {
            Checkpoint.CheckResumable(resumeFrom);
        }
        var device = Setup(config.Train.Device, config.Train.Threads);
        using var dist = DistributedCommands.Join(device.IsCuda, Console.WriteLine);
        device = dist.IsDistributed && device.IsCuda ? Device.CUDA(dist.LocalRank) : device;
        var (trainSet, valSet) = OpenSplits(config.Data, config.Val, dist);
        var numClasses = config.Model.NumClasses > 0 ? config.Model.NumClasses : trainSet.ClassCount;
        config = config with { Model = config.Model with { NumClasses = numClasses } };
        PrintConfig(config);

        // Rank 0 draws what one process would; the loop gives every rank rank 0's weights, and the others keep their own drop path draws.
        Torch.Torch.ManualSeed((ulong)Seeds.ForRank(config.Seed, dist.Rank));
        using var model = VideoClassifiers.Create(EvalSetup.ModelConfig(config.Model), numClasses, config.Model.HeadInitScale, config.Model.HeadDrop);
        var numSample = Math.Max(1, config.Aug.NumSample);
        var shard = (dist.Rank, dist.WorldSize);
        var trainLoader = EvalSetup.Loader(trainSet, EvalSetup.TrainPipeline(config.Data, config.Protocol, numSample, EvalSetup.RandAugment(config.Aug)), config.Data, config.Train.BatchSize, config.Seed, train: true, Console.WriteLine, shard);
        // Per-epoch validation uses one view per video (SSv2: its two segment offsets) as VideoMAE's validation; the full test follows.
        var valLoader = EvalSetup.Loader(valSet, EvalSetup.TestPipeline(config.Data, config.Protocol, 1, 1), config.Data, config.Test.BatchSize, config.Seed, train: false, Console.WriteLine, shard);
        var selectLoader = config.Select.Annotations.Length == 0 ? null
            : EvalSetup.Loader(EvalSetup.OpenVal(config.Data, config.Select, trainSet.ClassIndex, Console.WriteLine), EvalSetup.TestPipeline(config.Data, config.Protocol, 1, 1),
                config.Data, config.Test.BatchSize, config.Seed, train: false, Console.WriteLine, shard);

        if (resume && resumeFrom is not null && runDir is null)
        {
            runDir = RunDirectory.FolderOf(resumeFrom)
                ?? throw new ConfigException($"--resume {resumeFrom}: the file is not in a run folder's checkpoints/; pass --run-dir for the run to continue");
        }
        // Only rank 0 writes the run folder; the other ranks read its checkpoint to resume.
        using var run = dist.IsMain ? RunDirectory.Open(runDir, config.Name, config, sets, ManifestInfo.Create(config.Seed, "finetune", Environment.GetCommandLineArgs(), device.ToString()), resume, resumeFrom) : null;
        var checkpoint = run is not null ? run.ResumeCheckpoint
            : resume ? resumeFrom ?? (File.Exists(Path.Combine(runDir!, "checkpoints", "last.safetensors")) ? Path.Combine(runDir!, "checkpoints", "last.safetensors") : null) : null;
        if (run is not null)
        {
            trainSet.SaveClassIndex(Path.Combine(run.Path, ClassIndexFile));
            Console.WriteLine($"run folder: {run.Path}");
        }
        // A resume of a run that died before its first checkpoint starts from step 0, so from the init weights too.
        if (checkpoint is null && dist.IsMain)
        {
            Console.WriteLine(config.Init.Length > 0 ? EvalSetup.InitClassifier(model, config.Init) : "model: random init (no init checkpoint given)");
        }
        model.To(device);
        var hooks = new FinetuneHooks { OnEpoch = r => RunPlots.Regenerate(r.Path), Stop = stop };
        var finetuner = new Finetuner(config, model, trainLoader, valLoader, run, device, hooks, select: selectLoader, distributed: dist);
        var result = finetuner.Run(checkpoint);
        if (run is not null)
        {
            RunPlots.Regenerate(run.Path);
        }
        if (result.Interrupted)
        {
            Console.WriteLine($"stopped by {stop?.Description} at step {result.Steps}; checkpoint: {run?.LastCheckpoint}");
            if (run is not null)
            {
                Console.WriteLine($"resume with: {PretrainCommand.ResumeCommand("finetune", path, sets, run.Path)}");
            }
            if (!testWhenStopped)
            {
                return new FinetuneOutcome(result);
            }
        }
        var final = result.LastEval is { } last ? $"; final single-view val acc1 {last.Metrics.Top1 * 100:F2}%" : string.Empty;
        var selected = selectLoader is not null && double.IsFinite(result.BestAcc1) ? $"; best selection-split acc1 {result.BestAcc1 * 100:F2}%" : string.Empty;
        Console.WriteLine($"fine-tuned {result.Steps} steps in {result.Elapsed:hh\\:mm\\:ss}{final}{selected}");
        if (!test)
        {
            return new FinetuneOutcome(result);
        }
        // The final weights are the result; an epoch is chosen only on a selection split, never on the split tested here.
        string? tested = null;
        if (run is not null)
        {
            tested = selectLoader is not null && File.Exists(finetuner.BestCheckpoint) ? finetuner.BestCheckpoint : run.LastCheckpoint;
            Checkpoint.Load(tested, model, null);
            Console.WriteLine($"testing {tested} with {config.Test.Clips} clips x {config.Test.Crops} crops");
        }
        dist.Broadcast(model.Parameters().Select(p => p.Value).Concat(model.NamedBuffers().Select(b => b.Value)));
        model.Eval();
        var testLoader = EvalSetup.Loader(valSet, EvalSetup.TestPipeline(config.Data, config.Protocol, config.Test.Clips, config.Test.Crops), config.Data, config.Test.BatchSize, config.Seed, train: false, Console.WriteLine, shard);
        var eval = Evaluator.Run(((IVideoClassifier)model).Classify, testLoader, numClasses, device, config.Train.Bf16, Console.Out, dist);
        if (run is not null)
        {
            Report(Path.Combine(run.Path, "test"), eval, trainSet.ClassNames);
        }
        return new FinetuneOutcome(result, eval, tested);
    }

    internal static void Eval(string path, string checkpoint, string[] sets, string? outDir)
    {
        var config = LoadEvalConfig(path, sets);
        EvalSetup.Validate(path, config.Model, config.Protocol, config.Data, config.Test);
        var device = Setup(config.Device, config.Threads);
        using var dist = DistributedCommands.Join(device.IsCuda, Console.WriteLine);
        device = dist.IsDistributed && device.IsCuda ? Device.CUDA(dist.LocalRank) : device;
        // Class ids must be the ones training used: the run folder keeps them next to its checkpoints.
        var runIndex = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(checkpoint)))!, ClassIndexFile);
        var classIndex = File.Exists(runIndex) ? VideoDataset.LoadClassIndex(runIndex) : null;
        if (!dist.IsMain)
        {
            dist.Barrier();  // rank 0 writes a missing synthetic data set first
        }
        var valSet = EvalSetup.OpenVal(config.Data, config.Val, classIndex, Console.WriteLine);
        if (dist.IsMain)
        {
            dist.Barrier();
        }
        var numClasses = config.Model.NumClasses > 0 ? config.Model.NumClasses : HeadClasses(checkpoint);
        var model = VideoClassifiers.Create(EvalSetup.ModelConfig(config.Model with { DropPath = 0 }), numClasses);
        using (model)
        {
            var loaded = EvalSetup.InitClassifier(model, checkpoint);
            if (!loaded.StartsWith("loaded the whole classifier", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{checkpoint} has no {numClasses}-class head: evaluate a fine-tuned checkpoint ({loaded})");
            }
            Console.WriteLine(loaded);
            model.To(device);
            model.Eval();
            var loader = EvalSetup.Loader(valSet, EvalSetup.TestPipeline(config.Data, config.Protocol, config.Test.Clips, config.Test.Crops), config.Data, config.Test.BatchSize, config.Seed, train: false, Console.WriteLine, (dist.Rank, dist.WorldSize));
            Console.WriteLine($"testing {valSet.Count} videos with {config.Test.Clips} clips x {config.Test.Crops} crops on {device}");
            var result = Evaluator.Run(((IVideoClassifier)model).Classify, loader, numClasses, device, config.Bf16, Console.Out, dist);
            if (!dist.IsMain)
            {
                return;  // every rank holds the gathered predictions; rank 0 writes them
            }
            outDir ??= Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(checkpoint)))!, "eval");
            Report(outDir, result, valSet.ClassNames.Count == numClasses ? valSet.ClassNames : null);
        }
    }

    // A fine-tune config is an eval config with training sections: accept either, so one file serves both commands.
    internal static EvalConfig LoadEvalConfig(string? path, string[] sets)
    {
        using var document = path is not null && File.Exists(path) ? TryParse(path) : null;
        if (document is not null && document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("train", out _))
        {
            return ConfigLoader.Load<FinetuneConfig>(path, sets).ToEvalConfig();
        }
        return ConfigLoader.Load<EvalConfig>(path, sets);
    }

    // Invalid JSON is reported (with line and column) by the config loader.
    private static JsonDocument? TryParse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static int HeadClasses(string checkpoint)
    {
        var state = EvalSetup.LoadWeights(checkpoint);
        try
        {
            return state.TryGetValue("head.weight", out var head) ? (int)head.Size(0)
                : throw new InvalidDataException($"{checkpoint} has no head.weight: set model.num_classes or evaluate a fine-tuned checkpoint");
        }
        finally
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
        }
    }

    private static Device Setup(string device, int threads)
    {
        Torch.Torch.UseThreads(threads);
        var parsed = CliErrors.RequireAvailable(Device.Parse(device), $"device {device}", "use --set train.device=cpu");
        // As pretraining: bit-exact resume on the CPU; TF32 matmuls on CUDA.
        Torch.Torch.SetDeterministic(!parsed.IsCuda);
        if (parsed.IsCuda)
        {
            Torch.Torch.SetAllowTf32(true);
        }
        return parsed;
    }

    private static void PrintConfig<T>(T config)
    {
        foreach (var line in ConfigLoader.Describe(config))
        {
            Console.WriteLine($"  {line}");
        }
    }

    private static void Report(string dir, EvalResult result, IReadOnlyList<string>? classNames)
    {
        Console.Write(Evaluator.WriteReport(dir, result, classNames));
        // A head wider than the split's classes (a 400-class recipe on a subset of Kinetics): the rest are named by index.
        var classes = result.Metrics.ConfusionMatrix.GetLength(0);
        var names = classNames is null || classNames.Count == classes ? classNames
            : [.. classNames.Take(classes), .. Enumerable.Range(classNames.Count, Math.Max(0, classes - classNames.Count)).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        var plot = new ConfusionMatrixPlot(result.Metrics.ConfusionMatrix, names)
        {
            Title = $"confusion matrix: top-1 {result.Metrics.Top1 * 100:F1}% ({result.Metrics.Count} videos x {result.Views} views)",
        };
        plot.Save(Path.Combine(dir, "confusion.png"));
        Console.WriteLine($"wrote {Path.Combine(dir, "predictions.csv")}, metrics.json, confused_pairs.txt, confusion.png");
    }
}
