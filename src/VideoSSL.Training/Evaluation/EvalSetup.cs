using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Transforms;
using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Serialization;
using VideoSSL.Training.Config;

namespace VideoSSL.Training.Evaluation;

/// <summary>
/// What the evaluation commands share: opening the splits a config names, the loader pipelines of each protocol,
/// the model a config describes, and loading initial weights whatever checkpoint kind they come from.
/// </summary>
public static class EvalSetup
{
    /// <summary>Formats `data.format` accepts: the real layouts plus the built-in synthetic motion set (Kinetics layout).</summary>
    public static IReadOnlyList<string> Formats => ConfigSchema.DataFormats;

    /// <summary>Throws a <see cref="ConfigException"/> naming the key when a config cannot describe a runnable evaluation.</summary>
    public static void Validate(string source, ClassifierSection model, string protocol, DataSection data, TestSection test)
    {
        void Fail(string message) => throw new ConfigException($"{source}: {message}");
        // data.format and the value ranges were checked when the config was loaded (ConfigSchema).
        if (protocol is not ("kinetics" or "ssv2"))
        {
            Fail($"protocol '{protocol}' must be kinetics or ssv2");
        }
        if (data.Format == "procedural")
        {
            Fail("data.format procedural renders an unlabeled pretraining pool; probes, fine-tuning and tests read labeled files (videossl benchmark writes the nuisance-rich set under data/nuisance)");
        }
        if (data.Format != "synthetic" && (data.Root.Length == 0 || data.Annotations.Length == 0))
        {
            Fail("data.root and data.annotations must be set");
        }
        // V-JEPA tests SSv2 with dense clips (protocol kinetics), so the format does not fix the protocol; flipping it never is allowed.
        if ((protocol == "ssv2" || data.Format == "ssv2") && data.Flip)
        {
            Fail("data.flip must be false for ssv2: left/right classes would swap meaning");
        }
        if (protocol == "ssv2" && test.Clips != 2)
        {
            Fail($"test.clips is {test.Clips}, but the SSv2 protocol always tests 2 temporal views");
        }
        VideoViTConfig config;
        try
        {
            config = ModelConfig(model);
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"{source}: model: {e.Message}", e);
        }
        if (model.Frames != data.NumFrames)
        {
            Fail($"model.frames {model.Frames} differs from data.num_frames {data.NumFrames}");
        }
        if (model.ImgSize != data.InputSize)
        {
            Fail($"model.img_size {model.ImgSize} differs from data.input_size {data.InputSize}");
        }
        if (test.Clips < 1 || test.Crops < 1 || test.BatchSize < 1)
        {
            Fail("test.clips, test.crops and test.batch_size must be at least 1");
        }
        if (model.NumClasses < 0)
        {
            Fail($"model.num_classes must be 0 (from the dataset) or positive, got {model.NumClasses}");
        }
    }

    /// <summary>Throws a <see cref="ConfigException"/> naming the key when a probe config is inconsistent.</summary>
    public static void ValidateProbe(string path, ProbeConfig config)
    {
        var p = config.Probe;
        void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ConfigException($"{path}: {message}");
            }
        }
        Check(p.Kind is "linear" or "attentive" or "ridge" or "knn", $"probe.kind '{p.Kind}' must be linear, attentive, ridge or knn");
        Check(p.Kind != "knn" || (p.KnnK.Length > 0 && p.KnnK.All(k => k >= 1)), "probe.knn_k must list at least one k >= 1");
        Check(p.Pooling is "mean" or "last_k", $"probe.pooling '{p.Pooling}' must be mean or last_k");
        Check(p.BlockPooling is "concatenate" or "average", $"probe.block_pooling '{p.BlockPooling}' must be concatenate or average");
        Check(p.AttentiveVariant is "vjepa" or "vjepa2", $"probe.attentive_variant '{p.AttentiveVariant}' must be vjepa or vjepa2");
        Check(p.AttentiveDepth >= 1, "probe.attentive_depth must be at least 1");
        var depth = EvalSetup.ModelConfig(config.Model).Depth;
        Check(p.Pooling != "last_k" || (p.LastK >= 1 && p.LastK <= depth), $"probe.last_k {p.LastK} must lie in [1, {depth}]");
        Check(p.Kind != "attentive" || (p.AttentiveBlock >= 0 && p.AttentiveBlock <= depth), $"probe.attentive_block {p.AttentiveBlock} must lie in [0, {depth}]");
        Check(config.Train.Betas.Length == 2, "train.betas needs two values");
        Check(config.Train.BatchSize >= 1 && config.Train.Epochs >= 1, "train.batch_size and train.epochs must be at least 1");
    }

    public static VideoViTConfig ModelConfig(ClassifierSection model) => ModelRegistry.Resolve(model.Encoder, c => ModelSize.Apply(c, model.EmbedDim, model.Depth, model.NumHeads, model.MlpRatio) with
    {
        ImgSize = model.ImgSize,
        NumFrames = model.Frames,
        TubeletSize = model.Tubelet,
        PatchSize = model.Patch,
        DropPathRate = model.DropPath,
        GradCheckpointing = model.GradCheckpointing,
        PosEmbed = model.PosEmbed ?? c.PosEmbed,
        QkvBias = model.QkvBias ?? c.QkvBias,
        Rope = model.Rope ?? c.Rope,
    });

    /// <summary>The training split (generating the synthetic set first if it is missing).</summary>
    public static VideoDataset OpenTrain(DataSection data, Action<string>? log = null)
    {
        VideoDataset dataset;
        if (data.Format == "synthetic")
        {
            EnsureSynthetic(data, log);
            dataset = KineticsCsv.Read(Path.Combine(data.Root, "train.csv"), Path.Combine(data.Root, "train"), null, log);
        }
        else
        {
            dataset = DatasetFactory.Open(data.Format, data.Root, data.Annotations, Blank(data.Labels), log);
        }
        return Usable(dataset, data);
    }

    // Before any model is built: nothing on disk, too much missing, or no labels is an error now, not an epoch later.
    private static VideoDataset Usable(VideoDataset dataset, DataSection data)
    {
        dataset.FailureBudget(data.MaxFailedShare);
        dataset.RequireLabels();
        return dataset;
    }

    /// <summary>The validation split; Kinetics ids follow <paramref name="classIndex"/> (the training split's) when given.</summary>
    public static VideoDataset OpenVal(DataSection data, SplitSection val, IReadOnlyDictionary<string, int>? classIndex = null, Action<string>? log = null)
    {
        if (data.Format == "synthetic")
        {
            EnsureSynthetic(data, log);
            var root = Blank(val.Root) ?? Path.Combine(data.Root, "val");
            return Usable(KineticsCsv.Read(Blank(val.Annotations) ?? Path.Combine(data.Root, "val.csv"), root, classIndex, log), data);
        }
        var videos = Blank(val.Root) ?? data.Root;
        var annotations = Blank(val.Annotations) ?? throw new ConfigException("val.annotations must name the validation split");
        if (data.Format == "kinetics" && Blank(val.Labels) is null && classIndex is not null)
        {
            if (!Directory.Exists(videos))
            {
                throw new DirectoryNotFoundException($"video root not found: {videos}");
            }
            return Usable(KineticsCsv.Read(annotations, videos, classIndex, log), data);
        }
        return Usable(DatasetFactory.Open(data.Format, videos, annotations, Blank(val.Labels) ?? Blank(data.Labels), log), data);
    }

    /// <summary>Writes the synthetic motion dataset into data.root unless the same set is already there.</summary>
    public static void EnsureSynthetic(DataSection data, Action<string>? log = null)
    {
        if (data.Root.Length == 0)
        {
            throw new ConfigException("data.root must name the folder of the synthetic dataset");
        }
        SyntheticDatasetWriter.EnsureKinetics(data.Root, data.Synthetic.ToDatasetOptions(), log);
    }

    /// <summary>aug.auto_augment as a policy (null when off); a malformed policy is a config error naming the key.</summary>
    public static RandAugmentPolicy? RandAugment(AugmentSection aug)
    {
        try
        {
            return RandAugmentPolicy.Parse(aug.AutoAugment, "aug.auto_augment");
        }
        catch (FormatException ex)
        {
            throw new ConfigException(ex.Message);
        }
    }

    /// <summary>Fine-tune training clips: RandAugment when given, random resized crop, flip as data.flip, <paramref name="repeats"/> views per video.</summary>
    public static VideoPipelineOptions TrainPipeline(DataSection data, string protocol, int repeats = 1, RandAugmentPolicy? randAugment = null) => new()
    {
        RandAugment = randAugment,
        Protocol = PipelineProtocol.FinetuneTrain,
        Sampling = Scheme(protocol),
        Frames = data.NumFrames,
        Stride = data.SamplingRate,
        InputSize = data.InputSize,
        Flip = data.Flip,
        MinCropScale = data.MinCropScale,
        Repeats = repeats,
    };

    /// <summary>Test views: short side to the input size, clips × crops (SSv2: 2 segment views × crops).</summary>
    public static VideoPipelineOptions TestPipeline(DataSection data, string protocol, int clips, int crops) => new()
    {
        Protocol = PipelineProtocol.Test,
        Sampling = Scheme(protocol),
        Frames = data.NumFrames,
        Stride = data.SamplingRate,
        InputSize = data.InputSize,
        TestClips = clips,
        TestCrops = crops,
    };

    /// <summary>A loader over a dataset; evaluation loaders keep every video in order.</summary>
    /// <param name="shard">Data parallelism: (this rank, ranks); each reads its DistributedSampler shard.</param>
    public static ClipLoader Loader(VideoDataset dataset, VideoPipelineOptions pipeline, DataSection data, int batchSize, long seed, bool train, Action<string>? log = null,
        (int Rank, int Count)? shard = null) =>
        new(dataset, VideoPipelines.CreateWriter(pipeline), new ClipLoaderOptions
        {
            ShardRank = shard?.Rank ?? 0,
            ShardCount = shard?.Count ?? 1,
            BatchSize = batchSize,
            Workers = data.Workers,
            PrefetchBatches = Math.Max(1, data.Prefetch),
            Seed = (int)seed,
            Shuffle = train,
            DropLast = train,
            // Missing files already spent part of data.max_failed_share.
            MaxFailureFraction = dataset.FailureBudget(data.MaxFailedShare),
        }, log);

    public static SamplingScheme Scheme(string protocol) => protocol == "ssv2" ? SamplingScheme.Ssv2 : SamplingScheme.Kinetics;

    /// <summary>
    /// The model weights of a checkpoint as plain names: `model.encoder.*` of a pretraining checkpoint becomes
    /// `*`, `model.*` of a fine-tune checkpoint `*`, and an official .pth's `model` entry keeps its names
    /// (<see cref="VideoViTClassifier.LoadPretrainedEncoder"/> strips `encoder.` / `backbone.`).
    /// </summary>
    /// <param name="model">When given, tensors far larger than any of its own are refused before they are read.</param>
    public static Dictionary<string, Tensor> LoadWeights(string path, Device? device = null, Module? model = null) =>
        // A V-JEPA run's checkpoint holds encoder, predictor and target_encoder: the EMA target encoder is the one
        // evaluated, as jepa's evals read `target_encoder` (official .pth.tar files are handled by the unpickler).
        // An SVT run's holds student and teacher: the teacher's backbone, as SVT's eval_linear/eval_knn read `teacher`.
        Checkpoint.LoadWeights(path, device, model is null ? long.MaxValue : Weights.MaxElementsFor(model),
            Checkpoint.ModelPrefix + "teacher.backbone.", Checkpoint.ModelPrefix + "target_encoder.", Checkpoint.ModelPrefix + "encoder.", Checkpoint.ModelPrefix);

    /// <summary>
    /// Initialises a classifier: a checkpoint with a head of the right shape is loaded whole (resuming from our own
    /// fine-tuned weights); otherwise only the backbone is taken and fc_norm/head keep their fresh init.
    /// </summary>
    public static string InitClassifier(VideoEncoder model, string path)
    {
        var classifier = model as IVideoClassifier ?? throw new ArgumentException($"model '{model.Config.Name}' has no classification head", nameof(model));
        var state = LoadWeights(path, model: model);
        try
        {
            if (state.TryGetValue("head.weight", out var head) && head.Shape.SequenceEqual(classifier.Head.Weight.Shape))
            {
                var whole = new Dictionary<string, Tensor>(state, StringComparer.Ordinal);
                var position = model.KeepOwnPositionTable(whole);
                try
                {
                    model.LoadStateDict(whole);
                }
                catch (StateDictMismatchException e)
                {
                    throw new StateDictMismatchException(e.Report, path, SizeHint(state, model.Config));
                }
                return $"loaded the whole classifier from {path}{(position is null ? string.Empty : $" ({position})")}";
            }
            StateDictReport report;
            try
            {
                report = classifier.LoadPretrainedEncoder(state);
            }
            catch (StateDictMismatchException e)
            {
                throw new StateDictMismatchException(e.Report, path, SizeHint(state, model.Config));
            }
            return $"loaded the encoder from {path} (fresh: {string.Join(", ", report.Missing)}; ignored: {report.Unexpected.Count} tensors)";
        }
        finally
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>
    /// Initialises a frozen probe encoder (with its final norm): the backbone must be complete; a checkpoint without
    /// the final `norm` (a fine-tuned one keeps `fc_norm` instead) leaves it at identity.
    /// </summary>
    public static string InitEncoder(VideoEncoder encoder, string path)
    {
        var state = LoadWeights(path, model: encoder);
        try
        {
            var renamed = state.ToDictionary(
                kv => kv.Key.StartsWith("encoder.", StringComparison.Ordinal) ? kv.Key["encoder.".Length..]
                    : kv.Key.StartsWith("backbone.", StringComparison.Ordinal) ? kv.Key["backbone.".Length..] : kv.Key,
                kv => kv.Value, StringComparer.Ordinal);
            var position = encoder.KeepOwnPositionTable(renamed);
            var report = encoder.LoadStateDict(renamed, strict: false);
            var missing = report.Missing.Where(n => !n.StartsWith("norm.", StringComparison.Ordinal)).ToList();
            if (missing.Count > 0 || report.ShapeMismatched.Count > 0)
            {
                throw new StateDictMismatchException(new StateDictReport(missing, report.Unexpected, report.ShapeMismatched), path, SizeHint(renamed, encoder.Config));
            }
            var note = (report.Missing.Count > 0 ? "; no final norm in the checkpoint: left at identity" : string.Empty) + (position is null ? string.Empty : $"; {position}");
            return $"loaded the encoder from {path} ({report.Unexpected.Count} other tensors ignored{note})";
        }
        finally
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>
    /// "the checkpoint holds a 24-block, 1024-wide encoder; the model is 12 x 768: ..." when the sizes differ, else null.
    /// Width comes from the patch embedding, depth from the highest block index (the heads cannot be read off the weights).
    /// </summary>
    public static string? SizeHint(IReadOnlyDictionary<string, Tensor> state, VideoViTConfig model)
    {
        long width = -1;
        var depth = -1;
        foreach (var (name, tensor) in state)
        {
            if (name.EndsWith("patch_embed.proj.weight", StringComparison.Ordinal) && tensor.Dim > 0)
            {
                width = tensor.Size(0);
            }
            var at = name.IndexOf("blocks.", StringComparison.Ordinal);
            if (at >= 0 && (at == 0 || name[at - 1] == '.') && !name.Contains("decoder", StringComparison.Ordinal))
            {
                var rest = name[(at + "blocks.".Length)..];
                var dot = rest.IndexOf('.', StringComparison.Ordinal);
                if (dot > 0 && int.TryParse(rest[..dot], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var block))
                {
                    depth = Math.Max(depth, block + 1);
                }
            }
        }
        if (width < 0 || depth < 0 || (width == model.EmbedDim && depth == model.Depth))
        {
            return null;
        }
        return $"the checkpoint holds a {depth}-block, {width}-wide encoder; the model is {model.Depth} x {model.EmbedDim}: set model.encoder to that size, or model.embed_dim={width} model.depth={depth} and model.num_heads";
    }

    private static string? Blank(string value) => value.Length == 0 ? null : value;
}
