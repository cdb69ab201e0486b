using System.Text.Json;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Transforms;
using VideoSSL.Training.Config;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Tests.EvaluationRuns;

/// <summary>Every probe_*, finetune_* and eval_* config under experiments/ must load and describe a consistent run.</summary>
public class ExperimentConfigTests
{
    private static readonly Dictionary<string, int> s_knownClasses = new(StringComparer.OrdinalIgnoreCase)
    {
        ["kinetics400"] = 400,
        ["kinetics600"] = 600,
        ["kinetics700"] = 700,
        ["something-something-v2"] = 174,
    };

    public static string ExperimentsDir() => Path.Combine(RepoPaths.Root, "experiments");

    private static IEnumerable<string> EvaluationConfigs() =>
        Directory.EnumerateFiles(ExperimentsDir(), "*.json", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) is var n && (n.StartsWith("probe_", StringComparison.Ordinal) || n.StartsWith("finetune_", StringComparison.Ordinal) || n.StartsWith("eval_", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);

    public static TheoryData<string> Files() => [.. EvaluationConfigs().Select(f => Path.GetRelativePath(ExperimentsDir(), f))];

    /// <summary>The benchmark's supervised ceiling (quickstart/scratch_nuisance.json) is a fine-tune config from scratch.</summary>
    public static bool IsScratchCeiling(string fileName) => fileName.StartsWith("scratch_", StringComparison.Ordinal);

    [Fact]
    public void The_published_protocols_and_the_quick_start_have_configs()
    {
        var names = EvaluationConfigs().Select(Path.GetFileNameWithoutExtension).ToHashSet();
        foreach (var size in (string[])["s", "b", "l", "h"])
        {
            Assert.Contains($"finetune_videomae_vit{size}_k400", names);
        }
        Assert.Contains("finetune_videomae_vitb_ssv2", names);
        Assert.Contains("probe_vjepa_vitl_attentive_k400_16x8x3", names);
        Assert.Contains("probe_vjepa_vitl_attentive_ssv2_16x2x3", names);
        Assert.Contains("probe_linear_micro_synth", names);
        Assert.Contains("probe_attentive_micro_synth", names);
        Assert.Contains("finetune_micro_synth", names);
    }

    [Fact]
    public void Quick_start_evaluations_read_the_set_the_quick_start_pretraining_writes()
    {
        // One data.root, one synthetic set: options that differ would make each command rewrite the set for itself.
        var dir = ExperimentsDir();
        var pretrain = ConfigLoader.Load<PretrainConfig>(Path.Combine(dir, "quickstart", "videomae_micro_synth.json"), []).Data;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(dir, "quickstart"), "*.json"))
        {
            var name = Path.GetFileName(file);
            if (IsScratchCeiling(name))
            {
                continue;  // reads the benchmark's labeled nuisance-rich set (Supervised_ceiling_recipe_...)
            }
            var data = name.StartsWith("probe_", StringComparison.Ordinal) ? ConfigLoader.Load<ProbeConfig>(file, []).Data
                : name.StartsWith("finetune_", StringComparison.Ordinal) ? ConfigLoader.Load<FinetuneConfig>(file, []).Data
                : ConfigLoader.Load<PretrainConfig>(file, []).Data;
            if (data.Format == "procedural")
            {
                continue;  // the nuisance-rich pool is rendered on the fly: no set on disk to share
            }
            Assert.True(pretrain.Root == data.Root, $"{name}: data.root {data.Root} is not {pretrain.Root}");
            Assert.True(pretrain.Synthetic == data.Synthetic, $"{name}: data.synthetic {data.Synthetic} differs from videomae_micro_synth.json's {pretrain.Synthetic}");
        }
    }

    // The ceiling is a yardstick for the probes only if it trains the encoder they probe, on the splits they use.
    [Fact]
    public void Supervised_ceiling_recipe_trains_the_quick_start_encoder_on_the_benchmark_splits()
    {
        var dir = Path.Combine(ExperimentsDir(), "quickstart");
        var path = Path.Combine(dir, "scratch_nuisance.json");
        var c = ConfigLoader.Load<FinetuneConfig>(path, []);
        EvalSetup.Validate(path, c.Model, c.Protocol, c.Data, c.Test);
        var pretrain = ConfigLoader.Load<PretrainConfig>(Path.Combine(dir, "videomae_nuisance.json"), []);
        var (m, p) = (c.Model, pretrain.Model);
        Assert.Equal((p.Encoder, p.EmbedDim, p.Depth, p.NumHeads, p.ImgSize, p.Frames, p.Tubelet, p.Patch), (m.Encoder, m.EmbedDim, m.Depth, m.NumHeads, m.ImgSize, m.Frames, m.Tubelet, m.Patch));
        Assert.Equal((pretrain.Data.NumFrames, pretrain.Data.SamplingRate, pretrain.Data.InputSize), (c.Data.NumFrames, c.Data.SamplingRate, c.Data.InputSize));
        Assert.Equal("", c.Init);
        Assert.Equal("kinetics", c.Data.Format);
        Assert.False(c.Data.Flip, "left/right and clockwise/counter-clockwise are classes: no flip");
        // `videossl finetune` on its own reads the set `videossl benchmark` writes; the benchmark points these at its own data root.
        Assert.Equal("data/nuisance/kinetics/train.csv", c.Data.Annotations);
        Assert.Equal("data/nuisance/kinetics/dev.csv", c.Select.Annotations);
        Assert.Equal("data/nuisance/kinetics/test.csv", c.Val.Annotations);
        // One centre view per test video, as the probes are scored.
        Assert.Equal((1, 1), (c.Test.Clips, c.Test.Crops));
        Assert.Equal((0.0, 0.0, 0.1, 1.0), (c.Aug.Mixup, c.Aug.Cutmix, c.Aug.LabelSmoothing, c.Train.LayerDecay));
        Assert.Equal(1, c.Train.ValEveryEpochs);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Config_loads_and_is_consistent(string relative)
    {
        var path = Path.Combine(ExperimentsDir(), relative);
        var name = Path.GetFileName(path);
        try
        {
            if (name.StartsWith("probe_", StringComparison.Ordinal))
            {
                var c = ConfigLoader.Load<ProbeConfig>(path, []);
                EvalSetup.Validate(path, c.Model, c.Protocol, c.Data, c.Test);
                EvalSetup.ValidateProbe(path, c);
                CheckData(c.Model, c.Protocol, c.Data, c.Val, c.Test, c.Train.BatchSize);
            }
            else if (name.StartsWith("finetune_", StringComparison.Ordinal))
            {
                var c = ConfigLoader.Load<FinetuneConfig>(path, []);
                EvalSetup.Validate(path, c.Model, c.Protocol, c.Data, c.Test);
                CheckData(c.Model, c.Protocol, c.Data, c.Val, c.Test, c.Train.BatchSize * Math.Max(1, c.Aug.NumSample));
                Assert.Equal(2, c.Train.Betas.Length);
                Assert.InRange(c.Train.LayerDecay, 0.5, 1.0);
                var randAugment = EvalSetup.RandAugment(c.Aug);
                if (c.Data.Format != "synthetic")
                {
                    // Every VideoMAE finetune.sh runs with --aa rand-m7-n4-mstd0.5-inc1 (the default).
                    Assert.Equal(RandAugmentPolicy.Parse(RandAugmentPolicy.VideoMae), randAugment);
                }
                if (c.Aug.Mixup > 0 || c.Aug.Cutmix > 0)
                {
                    Assert.True(c.Train.BatchSize * Math.Max(1, c.Aug.NumSample) % 2 == 0, "mixup needs an even number of clips per batch");
                }
                // One file serves `finetune` and `eval`.
                var e = c.ToEvalConfig();
                Assert.Equal(c.Model, e.Model);
            }
            else
            {
                var c = ConfigLoader.Load<EvalConfig>(path, []);
                EvalSetup.Validate(path, c.Model, c.Protocol, c.Data, c.Test);
                CheckData(c.Model, c.Protocol, c.Data, c.Val, c.Test, 1);
            }
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{relative}: {ex.Message}");
        }
    }

    private static void CheckData(ClassifierSection model, string protocol, DataSection data, SplitSection val, TestSection test, int clipsPerBatch)
    {
        if (data.Format == "synthetic")
        {
            var s = data.Synthetic;
            Assert.InRange(s.Classes, 2, SyntheticVideo.Classes.Count);
            Assert.True(model.NumClasses == 0 || model.NumClasses == s.Classes, $"model.num_classes {model.NumClasses} vs {s.Classes} synthetic classes");
            Assert.True(s.Classes * s.TrainPerClass >= clipsPerBatch, "the synthetic training split must fill one batch");
            Assert.True(data.InputSize <= s.Size, $"data.input_size {data.InputSize} exceeds the {s.Size}-pixel synthetic clips");
            Assert.True(data.NumFrames * (protocol == "ssv2" ? 1 : data.SamplingRate) <= s.Frames * 2, "the clip span far exceeds the synthetic videos");
            Assert.False(data.Flip, "the synthetic classes include left/right motions: no flip");
            return;
        }
        var known = s_knownClasses.FirstOrDefault(k => data.Annotations.Contains(k.Key, StringComparison.OrdinalIgnoreCase)
            || data.Annotations.Replace("-", string.Empty, StringComparison.Ordinal).Contains(k.Key.Replace("-", string.Empty, StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase));
        Assert.True(known.Key is not null, $"data.annotations '{data.Annotations}' names no known dataset");
        Assert.Equal(known.Value, model.NumClasses);
        Assert.False(string.IsNullOrEmpty(val.Annotations), "val.annotations must name the validation split");
        Assert.NotEqual(data.Annotations, val.Annotations);
        if (known.Value == 174)
        {
            Assert.Equal("ssv2", data.Format);
            Assert.EndsWith(".json", data.Annotations, StringComparison.Ordinal);
            Assert.False(string.IsNullOrEmpty(data.Labels), "SSv2 needs data.labels");
            Assert.Equal((2, 3), (test.Clips, test.Crops));
        }
        else
        {
            Assert.Equal("kinetics", data.Format);
            Assert.Equal(3, test.Crops);
            Assert.Contains(test.Clips, (int[])[5, 8]);
        }
        Assert.Equal(224, data.InputSize);
        Assert.Equal(16, data.NumFrames);
    }
}
