using System.Text.Json;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Experiments;

/// <summary>
/// Every pretraining config under experiments/ must load and describe a model and data pipeline that can
/// exist; the published recipes must keep the figures derived from the official scripts (experiments/README.md).
/// </summary>
public class PretrainConfigsTests
{
    private static readonly string[] s_encoders = ["vit_micro", "vit_tiny", "vit_small", "vit_base", "vit_large", "vit_huge", "vit_giant", "vit_giant_xformers", "vit_micro_divst", "vit_small_divst", "vit_base_divst"];
    private static readonly string[] s_methods = ["videomae", "videomae_v2", "vjepa", "vjepa2", "svt", "supervised"];
    private static readonly string[] s_formats = ["kinetics", "list", "ssv2", "synthetic", "procedural"];
    private static readonly string[] s_kineticsFormats = ["kinetics", "list"];

    private static readonly string s_experiments = Path.Combine(RepoPaths.Root, "experiments");

    /// <summary>Paths relative to experiments/ ('/'-separated) of every JSON file with a top-level "method".</summary>
    public static TheoryData<string> Configs()
    {
        var data = new TheoryData<string>();
        foreach (var file in PretrainConfigFiles())
        {
            data.Add(file);
        }
        return data;
    }

    private static List<string> PretrainConfigFiles()
    {
        var files = new List<string>();
        foreach (var path in Directory.EnumerateFiles(s_experiments, "*.json", SearchOption.AllDirectories))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("method", out _))
            {
                files.Add(Path.GetRelativePath(s_experiments, path).Replace('\\', '/'));
            }
        }
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    private static PretrainConfig Load(string file) => ConfigLoader.Load<PretrainConfig>(Path.Combine(s_experiments, file), []);

    private static bool IsQuickstart(string file) => file.StartsWith("quickstart/", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Configs))]
    public void Config_loads_and_describes_a_buildable_run(string file)
    {
        var config = Load(file);
        var model = config.Model;
        var mask = config.Mask;
        var data = config.Data;

        Assert.False(string.IsNullOrWhiteSpace(config.Name));
        Assert.Contains(config.Method, s_methods);
        Assert.Contains(model.Encoder, s_encoders);
        Assert.True(model.ImgSize % model.Patch == 0, $"img_size {model.ImgSize} is not a multiple of patch {model.Patch}");
        Assert.True(model.Frames % model.Tubelet == 0, $"frames {model.Frames} is not a multiple of tubelet {model.Tubelet}");
        Assert.True(model.DecoderDim % model.DecoderHeads == 0, $"decoder_dim {model.DecoderDim} is not a multiple of decoder_heads {model.DecoderHeads}");
        Assert.True(model.DecoderDepth >= 1);
        // The loader samples data.num_frames at data.input_size; the model must be built for that clip.
        Assert.Equal(model.Frames, data.NumFrames);
        Assert.Equal(model.ImgSize, data.InputSize);

        Assert.InRange(mask.Ratio, 0.5, 0.95);
        // Tube masking masks int(ratio × cells) of every slice: at least one cell must stay visible.
        var cells = (model.ImgSize / model.Patch) * (model.ImgSize / model.Patch);
        Assert.True((int)(mask.Ratio * cells) < cells, $"mask.ratio {mask.Ratio} leaves no visible token among {cells} cells per slice");
        if (config.Method == "videomae_v2")
        {
            Assert.Equal(0.5, mask.DecoderRatio);
            // The running-cell decoder mask tiles the grid with 2×2 cells.
            Assert.True(model.ImgSize / model.Patch % 2 == 0, $"grid side {model.ImgSize / model.Patch} is odd: running-cell masking needs 2×2 cells");
        }

        Assert.Contains(data.Format, s_formats);
        // The procedural pool is rendered from (seed, index): it has no root.
        Assert.True(data.Format == "procedural" || !string.IsNullOrWhiteSpace(data.Root), "data.root is empty");
        if (data.Format is "kinetics" or "list" or "ssv2")
        {
            Assert.False(string.IsNullOrWhiteSpace(data.Annotations), "data.annotations is empty");
        }
        if (data.Format == "ssv2")
        {
            Assert.False(string.IsNullOrWhiteSpace(data.Labels), "data.labels is empty");
            // SSv2 classes such as "left to right" change meaning under a flip.
            Assert.False(data.Flip);
        }
        // Only clips that fit the synthetic videos can be sampled densely without repeating frames.
        if (data.Format == "synthetic")
        {
            Assert.True(data.NumFrames * data.SamplingRate <= data.Synthetic.Frames,
                $"{data.NumFrames} frames at stride {data.SamplingRate} span more than the {data.Synthetic.Frames} synthetic frames");
            Assert.True(data.InputSize <= data.Synthetic.Size);
        }

        if (data.Format == "procedural")
        {
            Assert.True(data.NumFrames * data.SamplingRate <= data.Procedural.Frames,
                $"{data.NumFrames} frames at stride {data.SamplingRate} span more than the {data.Procedural.Frames} rendered frames");
            Assert.True(data.InputSize <= data.Procedural.Size);
        }

        var train = config.Train;
        var videoMae = config.Method.StartsWith("videomae", StringComparison.Ordinal);
        Assert.True(train.BatchSize >= 1 && train.AccumSteps >= 1);
        // V-JEPA 2 holds its lr constant after warmup (final_lr = lr).
        Assert.True(train.BaseLr > 0 && train.MinLr >= 0 && (train.MinLr < train.BaseLr || (!videoMae && train.MinLr == train.BaseLr)), $"base_lr {train.BaseLr}, min_lr {train.MinLr}");
        Assert.True(train.WarmupEpochs < train.Epochs);
        Assert.Equal(2, train.Betas.Length);
        Assert.All(train.Betas, b => Assert.InRange(b, 0.0, 0.9999));
        if (config.Method == "svt")
        {
            // SVT clips each gradient on its own (svt.clip_grad); a global train.clip_grad on top would change the recipe.
            Assert.NotNull(config.Svt);
            Assert.Equal(0.0, train.ClipGrad);
            // The nuisance set's labels tell left from right and clockwise from counter-clockwise: flipping each
            // view on its own would teach the student those classes are one (experiments/README.md, SVT s1-s3).
            Assert.True(data.Flip != file.Contains("nuisance", StringComparison.Ordinal), "SVT views are flipped, except on the nuisance set");
            Assert.Equal(1, model.Tubelet);
            return;
        }
        if (config.Method == "supervised")
        {
            // The yardstick reads as "what labels buy" only if everything else is the V-JEPA quick start's: encoder,
            // pool, crops and steps (experiments/README.md, twentieth round). Left and right are classes: no flip.
            var vjepa = Load("quickstart/vjepa_nuisance.json");
            Assert.Equal(vjepa.Model, model);
            var (v, d) = (vjepa.Data, data);
            Assert.Equal((v.Format, v.NumFrames, v.SamplingRate, v.InputSize, v.Crop, v.MinCropScale, v.Procedural), (d.Format, d.NumFrames, d.SamplingRate, d.InputSize, d.Crop, d.MinCropScale, d.Procedural));
            Assert.Equal(v.CropAspect, d.CropAspect);
            Assert.False(data.Flip);
            Assert.Equal((vjepa.Train.Epochs, vjepa.Train.MaxSteps, vjepa.Train.BatchSize, vjepa.Train.CpuBf16, vjepa.Train.Threads),
                (train.Epochs, train.MaxSteps, train.BatchSize, train.CpuBf16, train.Threads));
            Assert.NotNull(config.Supervised);
            return;
        }
        if (!videoMae)
        {
            // app/vjepa/transforms.py: random resized crop (0.3–1, aspect 0.75–1.35) and flip.
            Assert.True(data.Flip, "V-JEPA pretraining flips");
            Assert.Equal(VideoSSL.Data.Pipelines.PretrainCrop.RandomResized, data.Crop);
            Assert.Equal(0.3, data.MinCropScale);
            Assert.NotNull(config.Vjepa);
            return;
        }
        Assert.False(data.Flip, "VideoMAE pretraining does not flip");

        if (IsQuickstart(file))
        {
            Assert.Equal("cpu", train.Device);
            // Quick starts run on data a fresh machine makes itself: the synthetic set or the procedural pool.
            Assert.Contains(data.Format, (string[])["synthetic", "procedural"]);
        }
        else
        {
            Assert.Equal("cuda", train.Device);
            Assert.True(train.Bf16);
            Assert.Equal(224, model.ImgSize);
            Assert.Equal(16, model.Frames);
        }

        var name = Path.GetFileName(file);
        if (name.StartsWith("k400_", StringComparison.Ordinal))
        {
            Assert.Contains(data.Format, s_kineticsFormats);
            Assert.Equal(4, data.SamplingRate);
        }
        else if (name.StartsWith("ssv2_", StringComparison.Ordinal))
        {
            Assert.Equal("ssv2", data.Format);
            Assert.Equal(2, data.SamplingRate);
        }
        else
        {
            Assert.True(IsQuickstart(file), $"{file}: a published recipe is named k400_* or ssv2_* so its sampling protocol can be checked");
        }
    }

    [Fact]
    public void Run_names_are_unique()
    {
        var names = PretrainConfigFiles().Select(f => (File: f, Load(f).Name)).ToList();
        var duplicates = names.GroupBy(n => n.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => string.Join(", ", g.Select(n => n.File))).ToList();
        Assert.True(duplicates.Count == 0, $"same run name in: {string.Join("; ", duplicates)}");
    }

    // Figures derived from the official scripts (see experiments/README.md): encoder, decoder dim/depth/heads,
    // total clips per optimizer step, peak and final lr after scaling, epochs, warmup epochs.
    // V1: per-GPU --batch_size × 8 GPUs × --nnodes, --lr 1.5e-4 and --min_lr 1e-5 (defaults) × total/256.
    // V2: per-GPU 32 videos × GPUs, --num_sample 4 clips per video (data.num_sample); lr scales by videos.
    public static TheoryData<string, string, int, int, int, int, double, double, int, double> PublishedRecipes() => new()
    {
        { "videomae/k400_vit_small_16x4_e1600.json", "vit_small", 192, 4, 3, 1024, 6e-4, 4e-5, 1601, 40 },
        { "videomae/k400_vit_base_16x4_e800.json", "vit_base", 384, 4, 6, 2048, 1.2e-3, 8e-5, 801, 40 },
        { "videomae/k400_vit_base_16x4_e1600.json", "vit_base", 384, 4, 6, 2048, 1.2e-3, 8e-5, 1601, 40 },
        { "videomae/k400_vit_large_16x4_e1600.json", "vit_large", 512, 12, 8, 512, 3e-4, 2e-5, 1601, 40 },
        { "videomae/k400_vit_huge_16x4_e1600.json", "vit_huge", 640, 12, 8, 1024, 6e-4, 4e-5, 1601, 40 },
        { "videomae/ssv2_vit_small_16x2_e2400.json", "vit_small", 192, 4, 3, 2048, 1.2e-3, 8e-5, 2401, 40 },
        { "videomae/ssv2_vit_base_16x2_e800.json", "vit_base", 384, 4, 6, 2048, 1.2e-3, 8e-5, 801, 40 },
        { "videomae/ssv2_vit_base_16x2_e2400.json", "vit_base", 384, 4, 6, 2048, 1.2e-3, 8e-5, 2401, 40 },
        { "videomae_v2/k400_vit_base_16x4_dual.json", "vit_base", 384, 4, 6, 1024, 4e-3, 4e-5, 200, 20 },
        { "videomae_v2/k400_vit_g_16x4_dual.json", "vit_giant", 512, 4, 8, 2048, 4.8e-3, 8e-5, 300, 30 },
    };

    [Theory]
    [MemberData(nameof(PublishedRecipes))]
    public void Published_recipe_keeps_the_official_figures(
        string file, string encoder, int decoderDim, int decoderDepth, int decoderHeads,
        int totalBatch, double peakLr, double minLr, int epochs, double warmupEpochs)
    {
        // Only VideoMAE V2's giant uses patch 14 (pretrain_videomae_giant_patch14_224) and clips gradients (--clip_grad 0.02).
        var giant = encoder == "vit_giant";
        var config = Load(file);
        Assert.Equal(encoder, config.Model.Encoder);
        Assert.Equal(decoderDim, config.Model.DecoderDim);
        Assert.Equal(decoderDepth, config.Model.DecoderDepth);
        Assert.Equal(decoderHeads, config.Model.DecoderHeads);
        Assert.Equal(giant ? 14 : 16, config.Model.Patch);
        Assert.Equal(0.9, config.Mask.Ratio);
        Assert.Equal(config.Method == "videomae_v2", file.StartsWith("videomae_v2/", StringComparison.Ordinal));
        var train = config.Train;
        // The trainer scales by the effective batch: batch_size × accum_steps (per-GPU batch × world size).
        var effective = train.BatchSize * train.AccumSteps;
        Assert.Equal(totalBatch, effective);
        Assert.Equal(peakLr, train.BaseLr * effective / 256, 1e-12);
        Assert.Equal(minLr, train.MinLr * effective / 256, 1e-12);
        Assert.Equal(epochs, train.Epochs);
        Assert.Equal(warmupEpochs, train.WarmupEpochs);
        Assert.Equal(giant ? 0.02 : 0.0, train.ClipGrad);
        Assert.Equal(config.Method == "videomae_v2" ? 4 : 1, config.Data.NumSample);
        Assert.Equal(0.05, train.WeightDecay);
        Assert.Equal([0.9, 0.95], train.Betas);
        Assert.Equal(0.0, config.Model.DropPath);
        Assert.True(config.Model.NormPixLoss);
    }

    [Fact]
    public void Every_published_recipe_has_its_official_figures_pinned()
    {
        var pinned = PublishedRecipes().Select(row => (string)row[0]).Concat(VJepaRecipes().Select(row => (string)row[0])).Append(SvtRecipe).ToHashSet(StringComparer.Ordinal);
        var published = PretrainConfigFiles().Where(f => !IsQuickstart(f)).ToList();
        Assert.NotEmpty(published);
        var unpinned = published.Where(f => !pinned.Contains(f)).ToList();
        Assert.True(unpinned.Count == 0, $"add the official figures to PublishedRecipes for: {string.Join(", ", unpinned)}");
        var missing = pinned.Where(f => !published.Contains(f)).ToList();
        Assert.True(missing.Count == 0, $"pinned recipes with no config file: {string.Join(", ", missing)}");
    }

    // jepa configs/pretrain/vit{l,h}16.yaml and vjepa2 configs/train/vit{l,g}16/pretrain-256px-16f.yaml (experiments/README.md):
    // encoder, size, ipe, batch (24 per GPU × 128), start/peak/final lr, weight decay start/end, EMA start/end, clip.
    public static TheoryData<string, string, int, double, double, double, double, double, double, double> VJepaRecipes() => new()
    {
        { "vjepa/vjepa_vitl16_224px_16x4_e300.json", "vit_large", 224, 2e-4, 6.25e-4, 1e-6, 0.04, 0.4, 0.998, 10.0 },
        { "vjepa/vjepa_vith16_224px_16x4_e300.json", "vit_huge", 224, 2e-4, 6.25e-4, 1e-6, 0.04, 0.4, 0.998, 10.0 },
        { "vjepa/vjepa2_vitl16_256px_16f.json", "vit_large", 256, 1e-4, 5.25e-4, 5.25e-4, 0.04, 0.04, 0.99925, 0.0 },
        { "vjepa/vjepa2_vitg16_256px_16f.json", "vit_giant_xformers", 256, 1e-4, 5.25e-4, 5.25e-4, 0.04, 0.04, 0.99925, 0.0 },
    };

    [Theory]
    [MemberData(nameof(VJepaRecipes))]
    public void VJepa_recipe_keeps_the_official_figures(string file, string encoder, int size, double startLr, double lr, double finalLr,
        double wd, double wdEnd, double emaStart, double clip)
    {
        var config = Load(file);
        var v2 = file.Contains("vjepa2", StringComparison.Ordinal);
        Assert.Equal(v2 ? "vjepa2" : "vjepa", config.Method);
        Assert.Equal(encoder, config.Model.Encoder);
        Assert.Equal(16, config.Model.Patch);
        Assert.Equal(size, config.Model.ImgSize);
        Assert.Equal(16, config.Model.Frames);
        var train = config.Train;
        Assert.Equal(3072, train.BatchSize * train.AccumSteps);
        Assert.False(train.ScaleLr);
        Assert.Equal(300, train.IterationsPerEpoch);
        Assert.Equal(1.25, train.ScheduleScale);
        Assert.Equal(40, train.WarmupEpochs);
        Assert.Equal((startLr, lr, finalLr), (train.StartLr, train.BaseLr, train.MinLr));
        Assert.Equal((wd, wdEnd), (train.WeightDecay, train.WeightDecayEnd!.Value));
        Assert.Equal([0.9, 0.999], train.Betas);
        Assert.True(train.Bf16);
        var vjepa = config.Vjepa!;
        Assert.Equal((384, 12), (vjepa.PredEmbedDim!.Value, vjepa.PredDepth!.Value));
        Assert.Equal(v2 ? 12 : null, vjepa.PredNumHeads);
        Assert.Equal([emaStart, v2 ? emaStart : 1.0], vjepa.Ema);
        Assert.Equal(clip, vjepa.ClipGrad);
        Assert.Equal([(0.15, 8), (0.7, 2)], vjepa.Masks.Select(m => (m.SpatialScale[0], m.NumBlocks)));
        Assert.All(vjepa.Masks, m => Assert.Equal([0.75, 1.5], m.AspectRatio));
    }

    private const string SvtRecipe = "svt/k400_vit_base_divst_svt.json";

    // kahnchana/svt scripts/train.sh (4 GPUs x --batch_size_per_gpu 8, --arch timesformer) with train_ssl.py's defaults
    // (experiments/README.md): lr 5e-4 x 32 / 256 = 6.25e-5, min_lr 1e-6 unscaled, 100 epochs, warmup 10, wd 0.04 -> 0.4.
    [Fact]
    public void Svt_recipe_keeps_the_official_figures()
    {
        var config = Load(SvtRecipe);
        Assert.Equal("svt", config.Method);
        Assert.Equal("vit_base_divst", config.Model.Encoder);
        Assert.Equal((224, 8, 1, 16, 0.1), (config.Model.ImgSize, config.Model.Frames, config.Model.Tubelet, config.Model.Patch, config.Model.DropPath));
        var train = config.Train;
        Assert.Equal(32, train.BatchSize * train.AccumSteps);
        Assert.False(train.ScaleLr);
        Assert.Equal((0.0, 6.25e-5, 1e-6), (train.StartLr, train.BaseLr, train.MinLr));
        Assert.Equal((100, 10.0), (train.Epochs, train.WarmupEpochs));
        Assert.Equal((0.04, 0.4), (train.WeightDecay, train.WeightDecayEnd!.Value));
        Assert.Equal([0.9, 0.999], train.Betas);
        var svt = config.Svt!;
        Assert.Equal((65536, 2048, 256, 3, true), (svt.OutDim, svt.HiddenDim, svt.BottleneckDim, svt.HeadLayers, svt.NormLastLayer));
        Assert.Equal((0.996, 0.04, 0.04, 0, 0.1, 0.9), (svt.MomentumTeacher, svt.WarmupTeacherTemp, svt.TeacherTemp, svt.WarmupTeacherTempEpochs, svt.StudentTemp, svt.CenterMomentum));
        Assert.Equal((1, 3.0), (svt.FreezeLastLayer, svt.ClipGrad));
        Assert.Equal([4, 8], svt.GlobalFrames);
        Assert.Equal([2, 2, 4, 4, 8, 8, 16, 16], svt.LocalFrames);
        Assert.Equal((224, 96), (svt.GlobalSize, svt.LocalSize));
        Assert.Equal([0.4, 1.0], svt.GlobalScale);
        Assert.Equal([0.05, 0.4], svt.LocalScale);
    }

    // The README's quick start, which `videossl benchmark` also pretrains: the figures the nuisance recipe search kept
    // (experiments/README.md, nuisance-rich benchmark, eleventh round), and a schedule whose cosine ends inside the
    // 15-minute budget (4375 bf16 steps: 9:48-11:13 at the 208-238 clips/s measured alone on 2 cores with AVX512-BF16)
    // instead of being cut mid-way.
    [Fact]
    public void Nuisance_quickstart_keeps_the_searched_recipe()
    {
        var config = Load("quickstart/videomae_nuisance.json");
        Assert.Equal("videomae", config.Method);
        var model = config.Model;
        Assert.Equal((96, 4, 3, 64, 1), (model.EmbedDim, model.Depth, model.NumHeads, model.DecoderDim, model.DecoderDepth));
        Assert.Equal((64, 8, 8, 2), (model.ImgSize, model.Frames, model.Patch, model.Tubelet));
        Assert.True(model.NormPixLoss);
        Assert.Equal(0.75, config.Mask.Ratio);
        Assert.Equal(("procedural", 2), (config.Data.Format, config.Data.SamplingRate));
        var train = config.Train;
        var steps = train.MaxSteps > 0 ? train.MaxSteps : (long)train.Epochs * (config.Data.Procedural.Clips / (train.BatchSize * train.AccumSteps));
        Assert.Equal(4375, steps);
        Assert.True(train.CpuBf16, "the eleventh round measured this schedule with bf16 matmuls");
        // Thirteenth round: with OpenBLAS pinned by the shim, a second thread takes the 4375 steps from ~12:30 to 9:32.
        Assert.Equal(2, train.Threads);
        Assert.Equal(1.5e-3, train.BaseLr * train.BatchSize * train.AccumSteps / 256, 9);
    }

    // The V-JEPA recipe `videossl benchmark` pretrains: the figures the nuisance recipe search kept (experiments/README.md,
    // fourth, sixth, ninth and thirteenth rounds): batch 16, peak lr 5e-4 from 1e-4, a 4-block predictor, 3400 bf16 steps
    // on 2 threads (11:16-12:24 alone on 2 cores with AVX512-BF16).
    [Fact]
    public void Vjepa_nuisance_quickstart_keeps_the_searched_recipe()
    {
        var config = Load("quickstart/vjepa_nuisance.json");
        Assert.Equal("vjepa", config.Method);
        var model = config.Model;
        Assert.Equal((96, 4, 3), (model.EmbedDim, model.Depth, model.NumHeads));
        Assert.Equal((64, 8, 8, 2), (model.ImgSize, model.Frames, model.Patch, model.Tubelet));
        var vjepa = config.Vjepa!;
        // Fourteenth round: 6 blocks read +1.6 per seed with one probe head, -0.5 with three on seed 3, lower on the
        // transfer set, and take 13:22-14:25, too close to the budget to be worth it.
        Assert.Equal((64, 4, 2), (vjepa.PredEmbedDim!.Value, vjepa.PredDepth!.Value, vjepa.PredNumHeads!.Value));
        Assert.Equal([0.996, 1.0], vjepa.Ema);
        var train = config.Train;
        Assert.Equal((16, 1, 3400L), (train.BatchSize, train.AccumSteps, train.MaxSteps));
        Assert.Equal((1e-4, 5e-4), (train.StartLr, train.BaseLr));
        Assert.False(train.ScaleLr);
        Assert.True(train.CpuBf16, "the ninth round measured this schedule with bf16 matmuls");
        Assert.Equal(2, train.Threads);
    }
}
