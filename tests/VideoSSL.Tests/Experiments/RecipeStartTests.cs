using VideoSSL.Cli;
using VideoSSL.Data.Synthetic;
using VideoSSL.Tests.EvaluationRuns;

namespace VideoSSL.Tests.Experiments;

/// <summary>
/// Tiny data in every real layout, written once: Kinetics (official CSV + mp4 per class folder), SSv2 (labels,
/// train and validation JSON + webm) and VideoMAE list files over the Kinetics clips; plus a tiny pretraining
/// checkpoint that the probe and fine-tune recipes start from.
/// </summary>
public sealed class TinyRealData : IDisposable
{
    /// <summary>The encoder and clip geometry every recipe is shrunk to (8 tokens of a 2-block, 64-wide ViT).</summary>
    public static readonly string[] ModelKeys =
    [
        "model.encoder=vit_micro", "model.img_size=32", "model.frames=4", "model.tubelet=2", "model.patch=16",
        "data.num_frames=4", "data.input_size=32", "data.workers=1", "data.prefetch=1",
    ];

    public TinyRealData()
    {
        Root = Directory.CreateTempSubdirectory("vssl-recipes-").FullName;
        var options = new SyntheticDatasetOptions
        {
            Clip = new SyntheticClipOptions(32, 32, 16, 8),
            TrainPerClass = 2,
            ValPerClass = 1,
            Seed = 7,
            ClassIds = [0, 1, 2],
        };
        SyntheticDatasetWriter.WriteKinetics(Kinetics, options);
        SyntheticDatasetWriter.WriteSsv2(Ssv2, options);
        foreach (var split in (string[])["train", "val"])
        {
            // VideoMAE's list form: "path label", paths relative to the root, labels as the class index.
            var classes = Directory.GetDirectories(Path.Combine(Kinetics, split)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            var lines = classes.SelectMany((c, label) => Directory.GetFiles(Path.Combine(Kinetics, split, c!)).Order(StringComparer.Ordinal)
                .Select(f => $"{c}/{Path.GetFileName(f)} {label}"));
            File.WriteAllLines(Path.Combine(Root, $"{split}_list.txt"), lines);
        }
        var config = Path.Combine(Root, "init.json");
        File.WriteAllText(config, "{\"name\": \"init\"}");
        var run = Path.Combine(Root, "init-run");
        PretrainCommand.Run(config, [.. ModelKeys, .. DataKeys("kinetics"), .. PretrainKeys], run, false, null);
        InitCheckpoint = Path.Combine(run, "checkpoints", "last.safetensors");
        // Probes of V-JEPA encoders (qkv bias, sincos3d table) need a checkpoint of that layout.
        var jepaRun = Path.Combine(Root, "init-vjepa-run");
        PretrainCommand.Run(config, ["method=vjepa", .. ModelKeys, .. DataKeys("kinetics"), .. PretrainKeys.Where(k => !k.StartsWith("model.decoder_", StringComparison.Ordinal))], jepaRun, false, null);
        VJepaInitCheckpoint = Path.Combine(jepaRun, "checkpoints", "last.safetensors");
    }

    public string Root { get; }

    public string Kinetics => Path.Combine(Root, "kinetics");

    public string Ssv2 => Path.Combine(Root, "ssv2");

    public string InitCheckpoint { get; }

    public string VJepaInitCheckpoint { get; }

    public static readonly string[] SvtKeys =
    [
        "model.encoder=vit_micro_divst", "model.tubelet=1", "svt.out_dim=64", "svt.hidden_dim=32", "svt.bottleneck_dim=16",
        "svt.global_frames=[4, 2]", "svt.global_size=32", "svt.local_frames=[2, 2]", "svt.local_size=16",
    ];

    public static readonly string[] PretrainKeys =
    [
        "model.decoder_dim=32", "model.decoder_depth=1", "model.decoder_heads=2", "train.epochs=1", "train.max_steps=1", "train.batch_size=2",
        "train.accum_steps=1", "train.warmup_epochs=0", "train.device=cpu", "log.every_steps=1", "log.checkpoint_every_steps=1",
        "log.reconstruction_every_steps=1",
    ];

    /// <summary>data.* and val.* keys that point a recipe at the tiny set of one layout.</summary>
    public string[] DataKeys(string format, bool withVal = false)
    {
        string[] data = format switch
        {
            "kinetics" => [$"data.root={Path.Combine(Kinetics, "train")}", $"data.annotations={Path.Combine(Kinetics, "train.csv")}", "data.labels="],
            "list" => [$"data.root={Path.Combine(Kinetics, "train")}", $"data.annotations={Path.Combine(Root, "train_list.txt")}", "data.labels="],
            "ssv2" => [$"data.root={Path.Combine(Ssv2, "videos")}", $"data.annotations={Path.Combine(Ssv2, SyntheticDatasetWriter.Ssv2TrainFile)}",
                $"data.labels={Path.Combine(Ssv2, SyntheticDatasetWriter.Ssv2LabelsFile)}"],
            "synthetic" => [$"data.root={Path.Combine(Root, "synthetic")}", "data.synthetic.classes=3", "data.synthetic.train_per_class=2",
                "data.synthetic.val_per_class=1", "data.synthetic.size=32", "data.synthetic.frames=16"],
            "procedural" => ["data.procedural.clips=4", "data.procedural.size=32", "data.procedural.frames=16", "data.procedural.classes=3"],
            _ => throw new ArgumentException(format, nameof(format)),
        };
        string[] val = !withVal ? [] : format switch
        {
            "kinetics" => [$"val.root={Path.Combine(Kinetics, "val")}", $"val.annotations={Path.Combine(Kinetics, "val.csv")}"],
            "list" => [$"val.root={Path.Combine(Kinetics, "val")}", $"val.annotations={Path.Combine(Root, "val_list.txt")}"],
            "ssv2" => ["val.root=", $"val.annotations={Path.Combine(Ssv2, SyntheticDatasetWriter.Ssv2ValidationFile)}"],
            _ => [],
        };
        return [$"data.format={format}", .. data, .. val];
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// Every config under experiments/ starts and trains on tiny data of its own layout (and the Kinetics pretraining
/// recipes on VideoMAE list files too), through the function its CLI verb calls: a recipe that cannot start on real
/// data can never be shipped again. The recipes are enumerated at test time, so a new file is covered without an edit.
/// </summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class RecipeStartTests(TinyRealData data) : IClassFixture<TinyRealData>
{
    public static TheoryData<string, string> Recipes()
    {
        var rows = new TheoryData<string, string>();
        var dir = ExperimentConfigTests.ExperimentsDir();
        foreach (var file in Directory.EnumerateFiles(dir, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(dir, file);
            var format = FormatOf(file);
            rows.Add(relative, format);
            if (format == "kinetics" && Verb(file) == "pretrain")
            {
                rows.Add(relative, "list");
            }
        }
        return rows;
    }

    private static string FormatOf(string file)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.TryGetProperty("data", out var d) && d.TryGetProperty("format", out var f) ? f.GetString()! : "kinetics";
    }

    private static bool IsVideoMae(string file)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        return !doc.RootElement.TryGetProperty("method", out var m) || m.GetString() is "videomae" or "videomae_v2";
    }

    private static bool IsSvt(string file)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.TryGetProperty("method", out var m) && m.GetString() == "svt";
    }

    // A recipe whose encoder is jepa's ViT (qkv bias) evaluates a V-JEPA checkpoint.
    private static bool HasJepaEncoder(string file)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.TryGetProperty("model", out var m) && m.TryGetProperty("qkv_bias", out var q) && q.GetString() == "qkv";
    }

    private static bool HasSelect(string file)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.TryGetProperty("select", out _);
    }

    private static int NumClasses(string file)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.TryGetProperty("model", out var m) && m.TryGetProperty("num_classes", out var n) ? n.GetInt32() : 0;
    }

    private static string Verb(string file) => Path.GetFileName(file) switch
    {
        var n when n.StartsWith("probe_", StringComparison.Ordinal) => "probe",
        var n when n.StartsWith("finetune_", StringComparison.Ordinal) || ExperimentConfigTests.IsScratchCeiling(n) => "finetune",
        var n when n.StartsWith("eval_", StringComparison.Ordinal) => "eval",
        _ => "pretrain",
    };

    /// <summary>
    /// `train.cpu_bf16` puts every method's step under CPU autocast (libtorch 1.13 leaves layer_norm out of its CPU
    /// lists, which failed before the binding ran it in fp32): the first step's loss moves by bf16 rounding, no more.
    /// </summary>
    [Theory]
    [InlineData("videomae")]
    [InlineData("videomae_v2")]
    [InlineData("vjepa")]
    [InlineData("vjepa2")]
    [InlineData("svt")]
    public void Every_method_trains_under_cpu_bf16_autocast_close_to_fp32(string method)
    {
        var root = Directory.CreateTempSubdirectory("vssl-cpu-bf16-").FullName;
        try
        {
            var config = Path.Combine(root, "config.json");
            File.WriteAllText(config, $"{{\"name\": \"bf16\", \"method\": \"{method}\"}}");
            var keys = method.StartsWith("videomae", StringComparison.Ordinal) ? TinyRealData.PretrainKeys : TinyRealData.PretrainKeys.Where(k => !k.StartsWith("model.decoder_", StringComparison.Ordinal));
            string[] svt = method == "svt" ? TinyRealData.SvtKeys : [];
            string[] common = [.. TinyRealData.ModelKeys, .. data.DataKeys("procedural"), .. keys, .. svt];
            var single = PretrainCommand.Run(config, [.. common, "train.cpu_bf16=false"], Path.Combine(root, "fp32"), false, null);
            var half = PretrainCommand.Run(config, [.. common, "train.cpu_bf16=true"], Path.Combine(root, "bf16"), false, null);
            Assert.True(double.IsFinite(half.FinalLoss), $"bf16 loss {half.FinalLoss}");
            Assert.NotEqual(single.FinalLoss, half.FinalLoss);
            Assert.InRange(Math.Abs(half.FinalLoss - single.FinalLoss), 0, 0.03 * Math.Abs(single.FinalLoss) + 1e-3);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Recipes))]
    public void Recipe_starts_and_trains_on_tiny_data_of_its_format(string relative, string format)
    {
        var config = Path.Combine(ExperimentConfigTests.ExperimentsDir(), relative);
        var run = Path.Combine(Directory.CreateTempSubdirectory("vssl-recipe-run-").FullName, "run");
        try
        {
            switch (Verb(config))
            {
                case "pretrain":
                {
                    // Decoder sizes are VideoMAE's keys; other methods are shrunk by the encoder keys alone.
                    var keys = IsVideoMae(config) ? TinyRealData.PretrainKeys : TinyRealData.PretrainKeys.Where(k => !k.StartsWith("model.decoder_", StringComparison.Ordinal));
                    // SVT recipes keep their divided encoder, shrunk, and cut small views.
                    string[] svt = IsSvt(config) ? TinyRealData.SvtKeys : [];
                    var result = PretrainCommand.Run(config, [.. TinyRealData.ModelKeys, .. data.DataKeys(format), .. keys, .. svt], run, false, null);
                    Assert.Equal(1, result.Steps);
                    Assert.True(double.IsFinite(result.FinalLoss), $"loss {result.FinalLoss}");
                    Assert.True(File.Exists(Path.Combine(run, "checkpoints", "last.safetensors")));
                    break;
                }
                case "probe":
                    EvaluationCommands.Probe(config, [.. TinyRealData.ModelKeys, .. data.DataKeys(format, withVal: true), $"init={(HasJepaEncoder(config) ? data.VJepaInitCheckpoint : data.InitCheckpoint)}",
                        "train.epochs=1", "train.batch_size=2", "train.warmup_epochs=0", "train.device=cpu", "test.batch_size=2", "log.every_steps=1"], run);
                    Assert.True(File.Exists(Path.Combine(run, "test", "predictions.csv")));
                    break;
                case "finetune":
                {
                    // A recipe that chooses its epoch on a split of its own (the supervised ceiling) chooses on the tiny val split.
                    var val = data.DataKeys(format, withVal: true).Where(k => k.StartsWith("val.", StringComparison.Ordinal));
                    string[] select = HasSelect(config) ? [.. val.Select(k => "select." + k["val.".Length..])] : [];
                    string[] keys = [.. TinyRealData.ModelKeys, .. data.DataKeys(format, withVal: true), .. select, "train.epochs=1", "train.batch_size=2",
                        "train.accum_steps=1", "train.warmup_epochs=0", "train.device=cpu", "test.batch_size=2", "log.every_steps=1"];
                    // A recipe from scratch (the 96-wide supervised ceiling) keeps its random init; the rest start from the tiny checkpoint.
                    string[] init = ExperimentConfigTests.IsScratchCeiling(Path.GetFileName(config)) ? [] : [$"init={data.InitCheckpoint}"];
                    EvaluationCommands.Finetune(config, [.. keys, .. init], run, false, null, test: true);
                    Assert.True(File.Exists(Path.Combine(run, "checkpoints", "last.safetensors")));
                    Assert.True(File.Exists(Path.Combine(run, "test", "predictions.csv")));
                    // The same file serves `videossl eval`.
                    var eval = Path.Combine(Path.GetDirectoryName(run)!, "eval");
                    EvaluationCommands.Eval(config, Path.Combine(run, "checkpoints", "last.safetensors"), keys, eval);
                    Assert.True(File.Exists(Path.Combine(eval, "predictions.csv")));
                    break;
                }
                default:
                {
                    // An eval recipe tests a fine-tuned checkpoint: make one with the recipe's head size first.
                    var numClasses = NumClasses(config);
                    var finetuneConfig = Path.Combine(Path.GetDirectoryName(run)!, "finetune.json");
                    File.WriteAllText(finetuneConfig, "{\"name\": \"finetune\"}");
                    EvaluationCommands.Finetune(finetuneConfig, [.. TinyRealData.ModelKeys, .. data.DataKeys(format, withVal: true), $"init={data.InitCheckpoint}",
                        $"model.num_classes={numClasses}", "train.epochs=1", "train.batch_size=2", "train.warmup_epochs=0", "aug.auto_augment=none"], run, false, null, test: false);
                    var eval = Path.Combine(Path.GetDirectoryName(run)!, "eval");
                    EvaluationCommands.Eval(config, Path.Combine(run, "checkpoints", "last.safetensors"),
                        [.. TinyRealData.ModelKeys, .. data.DataKeys(format, withVal: true), "test.batch_size=2"], eval);
                    Assert.True(File.Exists(Path.Combine(eval, "predictions.csv")));
                    break;
                }
            }
            Assert.True(File.Exists(Path.Combine(run, "metrics.jsonl")));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(run)!, recursive: true);
        }
    }
}
