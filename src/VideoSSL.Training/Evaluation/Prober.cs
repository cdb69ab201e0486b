using System.Diagnostics;
using System.Globalization;
using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;
using VideoSSL.Training.Config;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>
/// Frozen-encoder evaluation: the encoder runs in eval mode without gradients; a linear head (MAE's BatchNorm without
/// affine + Linear, on token-mean or last-k features), an attentive probe (V-JEPA, on all tokens), a ridge classifier or
/// a weighted kNN classifier (SVT/DINO, <see cref="KnnProbe"/>) is fitted on top. With <c>probe.cache_features</c> the encoder runs once per split and the head trains every epoch
/// from the cache (the encoder dominates the cost); otherwise every epoch encodes the loader's (augmented) clips.
/// The validation split is scored after every epoch with its configured views (per-view softmax averaged per video).
/// The result is the final epoch's: the validation split is the only held-out one, so the best epoch on it would be
/// a figure selected on the test data.
/// </summary>
public sealed class Prober
{
    public const string LastCheckpointName = "last-head.safetensors";

    private readonly ProbeConfig _config;
    private readonly VideoEncoder _encoder;
    private readonly ClipLoader? _train;
    private readonly ClipLoader? _val;
    private readonly RunDirectory? _run;
    private readonly Device _device;
    private readonly TextWriter _out;
    private readonly int _numClasses;
    private readonly DistributedContext _dist;

    /// <param name="train">Cache mode: every training video once, in order (no shuffle, no drop). Live mode: the training loader (shuffled with the config's seed).</param>
    /// <param name="val">The validation loader (items may carry several test views).</param>
    /// <param name="run">The run folder; null on data-parallel ranks other than 0, and for <see cref="Fit"/> from the benchmark (writes nothing).</param>
    /// <param name="distributed">Data parallelism (cached features only): each rank encodes its shard of both loaders, the features are
    /// gathered in one process's order, and rank 0 fits the head on them exactly as one process would.</param>
    public Prober(ProbeConfig config, VideoEncoder encoder, ClipLoader? train, ClipLoader? val, int numClasses, RunDirectory? run, Device device, TextWriter? output = null,
        DistributedContext? distributed = null)
    {
        _dist = distributed ?? DistributedContext.Single;
        if (_dist.IsDistributed && !(config.Probe.Kind is "ridge" or "knn" || config.Probe.CacheFeatures))
        {
            // Live features would need the head trained data-parallel, and the linear head's BatchNorm would then see each rank's batch only.
            throw new ConfigException("probe.cache_features = false (features encoded every epoch) does not run data-parallel: set probe.cache_features=true (features extracted once, sharded over the ranks) or run one process");
        }
        _config = config;
        _encoder = encoder;
        _train = train;
        _val = val;
        _numClasses = numClasses;
        _run = run;
        _device = device;
        _out = output ?? Console.Out;
        _encoder.Eval();
        foreach (var p in _encoder.Parameters())
        {
            p.Value.RequiresGrad_(false);
        }
    }

    /// <param name="FinalAcc1">Validation top-1 after the last epoch: the probe's result.</param>
    public sealed record Result(double FinalAcc1, EvalResult LastEval, long FeatureDim);

    private ProbeSection Probe => _config.Probe;

    private bool Attentive => Probe.Kind == "attentive";

    // Closed-form and nearest-neighbour probes have no epochs: they always work on cached features.
    private bool UseCache => Probe.Kind is "ridge" or "knn" || Probe.CacheFeatures;

    private bool Autocast => _device.IsCuda && _config.Train.Bf16;

    /// <summary>What the head sees for clips [rows, 3, T, H, W]: pooled [rows, F] (linear, ridge) or tokens [rows, N, D] (attentive), float32.</summary>
    public Tensor Encode(Tensor clips)
    {
        using var noGrad = Torch.NoGrad();
        using var scope = Torch.NewScope();
        Tensor features;
        using (Autocast ? Torch.Autocast(_device) : null)
        {
            if (Attentive || Probe.Pooling == "mean")
            {
                // The clip feature: mean-pooled tokens of a joint ViT, the CLS token of a divided one (SVT's linear probe).
                features = !Attentive ? _encoder.ClipFeature(clips)
                    : Probe.AttentiveBlock > 0 ? BlockTokens(clips, Probe.AttentiveBlock) : _encoder.Tokens(clips);
            }
            else
            {
                var (_, blocks) = _encoder.ForwardIntermediates(clips, Probe.LastK);
                features = TokenPooling.LastBlocks(blocks, Probe.BlockPooling == "average" ? BlockPooling.Average : BlockPooling.Concatenate);
            }
        }
        return scope.MoveToOuter(features.Float());
    }

    // The raw tokens out of block K (from 1), before the later blocks and the final norm (K checked by EvalSetup.ValidateProbe).
    private Tensor BlockTokens(Tensor clips, int block)
    {
        var (output, blocks) = _encoder.ForwardIntermediates(clips, _encoder.Config.Depth - block + 1);
        output.Dispose();
        for (var i = 1; i < blocks.Length; i++)
        {
            blocks[i].Dispose();
        }
        return blocks[0];
    }

    /// <summary>
    /// Runs the encoder over every item of a loader: rows = videos × views, in loader order, on the CPU. Data-parallel:
    /// each rank encodes its shard and every rank ends with all rows in one process's order (padding duplicates dropped).
    /// An unreadable video is skipped and counted: the loader fills its slot with another video of the split, whose
    /// second copy is dropped here, so no video weighs twice in a probe's training rows or a kNN bank.
    /// </summary>
    public CachedFeatures Extract(ClipLoader loader, string split, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var parts = new List<Tensor>();
        var labels = new List<long>();
        var ids = new List<string>();
        var views = 1;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var repeated = 0;
        var watch = Stopwatch.StartNew();
        var done = 0;
        try
        {
            foreach (var batch in loader.Epoch(0))
            {
                var vb = ViewBatch.From(batch);
                views = vb.Views;
                using (var scope = Torch.NewScope())
                {
                    var features = Encode(vb.Clips(_device));
                    if (_dist.IsDistributed)
                    {
                        (features, vb) = Gather(loader, batch, vb, features);
                    }
                    var keep = vb.RowsOfNewVideos(seen);
                    if (keep.Length < vb.Rows)
                    {
                        repeated += (vb.Rows - keep.Length) / views;
                        features = features.IndexSelect(0, Tensor.From(keep.Select(r => (long)r).ToArray(), keep.Length).To(features.Device));
                    }
                    parts.Add(scope.MoveToOuter(features.Cpu()).DetachFromScope());
                    labels.AddRange(keep.Select(r => (long)vb.Labels[r]));
                    ids.AddRange(keep.Select(r => vb.VideoIds[r]));
                }
                done++;
                if (done % 20 == 0 || done == loader.BatchesPerEpoch)
                {
                    _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"features ({split}): {done}/{loader.BatchesPerEpoch} batches, {ids.Count / Math.Max(watch.Elapsed.TotalSeconds, 1e-9):F1} clips/s"));
                }
            }
            if (loader.Failures.Count > 0 || repeated > 0)
            {
                var first = loader.Failures.Count > 0 ? $" (first: {loader.Failures[0].Sample}: {loader.Failures[0].Error})" : string.Empty;
                _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"features ({split}): {loader.Failures.Count} unreadable videos skipped{first}; {ids.Count / views} videos kept, {repeated} repeated slots dropped"));
            }
            Tensor all;
            using (var scope = Torch.NewScope())
            {
                all = scope.MoveToOuter(Torch.Cat(parts, 0)).DetachFromScope();
            }
            var meta = new Dictionary<string, string>(StringComparer.Ordinal) { ["views"] = views.ToString(CultureInfo.InvariantCulture), ["split"] = split };
            if (metadata is not null)
            {
                foreach (var (k, v) in metadata)
                {
                    meta[k] = v;
                }
            }
            return new CachedFeatures(all, [.. labels], [.. ids], meta);
        }
        finally
        {
            foreach (var p in parts)
            {
                p.Dispose();
            }
        }
    }

    /// <returns>The result on rank 0; null on the other data-parallel ranks, which only extract features.</returns>
    public Result? Run()
    {
        _out.WriteLine($"probe: {Probe.Kind}{(Attentive ? $" (depth {Probe.AttentiveDepth}, {Probe.AttentiveVariant})" : $" on {Probe.Pooling}{(Probe.Pooling == "last_k" ? $" k={Probe.LastK} {Probe.BlockPooling}" : string.Empty)} features")}, {_numClasses} classes, {(UseCache ? "cached" : "live")} features, device {_device}");
        using var trainCache = UseCache ? CachedOrExtract(_train!, "train") : null;
        using var valCache = UseCache ? CachedOrExtract(_val!, "val") : null;
        if (!_dist.IsMain)
        {
            return null;
        }
        return Fit(trainCache, valCache, []).Result;
    }

    /// <summary>
    /// Trains the head on <paramref name="trainCache"/> (null: live features from the training loader) and scores the
    /// validation split after every epoch; the final head also scores each of <paramref name="extra"/> (the benchmark
    /// chooses hyperparameters on a dev split and reports the same head's test score). Ridge and kNN score directly.
    /// </summary>
    public (Result Result, IReadOnlyList<EvalResult> Extra) Fit(CachedFeatures? trainCache, CachedFeatures? valCache, IReadOnlyList<CachedFeatures> extra)
    {
        var train = _config.Train;
        if (Probe.Kind == "ridge")
        {
            return (FitRidge(trainCache!, valCache!), []);
        }
        if (Probe.Kind == "knn")
        {
            return (FitKnn(trainCache!, valCache!), [.. extra.Select(e => ScoreKnn(trainCache!, e, Probe.KnnK[0], Probe.KnnTemperature, _numClasses))]);
        }

        long featureDim;
        using (var scope = Torch.NewScope())
        {
            featureDim = trainCache is not null ? trainCache.Features.Size(-1) : SampleFeatureDim();
        }
        Torch.ManualSeed((ulong)_config.Seed);
        using var head = CreateHead(featureDim);
        head.To(_device);
        var stepsPerEpoch = trainCache is not null ? trainCache.Count / train.BatchSize : _train!.BatchesPerEpoch;
        if (stepsPerEpoch < 1)
        {
            throw new ConfigException($"train.batch_size={train.BatchSize} leaves no whole batch of training clips");
        }
        var totalSteps = (long)train.Epochs * stepsPerEpoch;
        var warmupSteps = (long)Math.Round(train.WarmupEpochs * stepsPerEpoch);
        var peakLr = train.ScaleLr ? train.BaseLr * train.BatchSize / 256 : train.BaseLr;
        var minLr = train.ScaleLr ? train.MinLr * train.BatchSize / 256 : train.MinLr;
        _out.WriteLine($"head: {head.ParameterCount(true):N0} parameters on {featureDim}-d features; {totalSteps} steps ({stepsPerEpoch} per epoch), batch {train.BatchSize}, lr {peakLr:G4}, warmup {warmupSteps} steps, weight decay {train.WeightDecay}");
        using var optimizer = new AdamW(ParamGroups.WeightDecaySplit(head, train.WeightDecay), peakLr, train.Betas[0], train.Betas[1]);

        EvalResult? last = null;
        long step = 0;
        var watch = Stopwatch.StartNew();
        for (var epoch = 0; epoch < train.Epochs; epoch++)
        {
            head.Train();
            var lossSum = 0.0;
            var batches = 0;
            long hits = 0;
            long rows = 0;
            foreach (var (features, labels) in TrainBatches(trainCache, epoch, stepsPerEpoch))
            {
                optimizer.Lr = Schedule.WarmupCosine(step, peakLr, minLr, warmupSteps, totalSteps);
                double lossValue;
                using (var scope = Torch.NewScope())
                {
                    Tensor logits;
                    using (Autocast ? Torch.Autocast(_device) : null)
                    {
                        logits = Forward(head, features);
                    }
                    logits = logits.Float();
                    var loss = Torch.CrossEntropy(logits, labels, train.LabelSmoothing);
                    lossValue = loss.Item();
                    if (!double.IsFinite(lossValue))
                    {
                        throw new TrainingDivergedException($"probe loss is {lossValue} at step {step} (epoch {epoch}); lower train.base_lr");
                    }
                    hits += (long)logits.ArgMax(1).Eq(labels).Sum().Item();
                    rows += labels.Size(0);
                    loss.Backward();
                }
                features.Dispose();
                labels.Dispose();
                var gradNorm = GradClip.ClipGradNorm(head.Parameters(), double.PositiveInfinity);
                optimizer.Step();
                optimizer.ZeroGrad();
                step++;
                lossSum += lossValue;
                batches++;
                if (step % _config.Log.EverySteps == 0)
                {
                    _run?.Metrics.Write(("step", step), ("epoch", epoch), ("train/loss", lossValue), ("opt/lr", optimizer.Lr), ("opt/grad_norm", gradNorm), ("time", watch.Elapsed.TotalSeconds));
                    _run?.TensorBoard.AddScalar("train/loss", (float)lossValue, step);
                    _run?.TensorBoard.AddScalar("opt/lr", (float)optimizer.Lr, step);
                    _run?.TensorBoard.AddScalar("opt/grad_norm", (float)gradNorm, step);
                }
            }
            head.Eval();
            last = valCache is not null
                ? EvaluateCached(head, valCache)
                : Evaluator.Run(clips => Forward(head, Encode(clips)), _val!, _numClasses, _device, train.Bf16);
            var m = last.Metrics;
            var trainLoss = lossSum / Math.Max(1, batches);
            var trainAcc = (double)hits / Math.Max(1, rows);
            _run?.Metrics.Write(("step", step), ("epoch", epoch), ("train/loss", trainLoss), ("train/acc1", trainAcc),
                ("val/loss", last.Loss), ("val/acc1", m.Top1), ("val/acc5", m.Top5), ("val/mean_class_acc", m.MeanClassAccuracy), ("time", watch.Elapsed.TotalSeconds));
            LogEval(step, last, trainLoss);
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {epoch}: train loss {trainLoss:F4} acc1 {trainAcc * 100:F2}% | val acc1 {m.Top1 * 100:F2}% acc5 {m.Top5 * 100:F2}% loss {last.Loss:F4} | lr {optimizer.Lr:E2}"));
            var state = new TrainerState(step, epoch + 1, 0, optimizer.StepCount, trainLoss, ConfigLoader.ToJson(_config));
            if (_run is not null)
            {
                Checkpoint.Save(Path.Combine(_run.CheckpointDir, LastCheckpointName), head, null, state);
            }
        }
        return (new Result(last!.Metrics.Top1, last, featureDim), [.. extra.Select(e => EvaluateCached(head, e))]);
    }

    /// <summary>Head logits for features on the device.</summary>
    public static Tensor Forward(Module head, Tensor features) => head switch
    {
        LinearProbeHead linear => linear.Forward(features),
        AttentiveProbe attentive => attentive.Forward(features),
        _ => throw new ArgumentException($"not a probe head: {head.GetType().Name}"),
    };

    /// <summary>The configured head (linear or attentive) for features of width <paramref name="featureDim"/>.</summary>
    public Module CreateHead(long featureDim)
    {
        if (!Attentive)
        {
            return new LinearProbeHead(featureDim, _numClasses);
        }
        var heads = Probe.AttentiveHeads > 0 ? Probe.AttentiveHeads : _encoder.Config.NumHeads;
        var variant = Probe.AttentiveVariant == "vjepa2" ? AttentiveProbeVariant.VJepa2 : AttentiveProbeVariant.VJepa;
        return new AttentiveProbe(featureDim, heads, _numClasses, Probe.AttentiveDepth, variant);
    }

    // Batches of (features, labels) on the device: from the cache in the order a shuffled, drop-last loader with the
    // same seed would visit (so cached and live runs see the same batches), or encoded live from the loader.
    private IEnumerable<(Tensor Features, Tensor Labels)> TrainBatches(CachedFeatures? cache, int epoch, int stepsPerEpoch)
    {
        if (cache is null)
        {
            foreach (var batch in _train!.Epoch(epoch))
            {
                var vb = ViewBatch.From(batch);
                Tensor features;
                using (var scope = Torch.NewScope())
                {
                    features = scope.MoveToOuter(Encode(vb.Clips(_device)));
                }
                yield return (features.DetachFromScope(), vb.LabelTensor(_device).DetachFromScope());
            }
            yield break;
        }
        var order = EpochOrder(_config.Seed, epoch, cache.Count);
        var size = _config.Train.BatchSize;
        for (var b = 0; b < stepsPerEpoch; b++)
        {
            var rows = order.AsSpan(b * size, size).ToArray().Select(i => (long)i).ToArray();
            Tensor features;
            Tensor labels;
            using (var scope = Torch.NewScope())
            {
                var index = Tensor.From(rows, rows.Length);
                features = scope.MoveToOuter(cache.Features.IndexSelect(0, index).To(_device));
                labels = scope.MoveToOuter(Tensor.From(rows.Select(i => cache.Labels[i]).ToArray(), rows.Length).To(_device));
            }
            yield return (features.DetachFromScope(), labels.DetachFromScope());
        }
    }

    /// <summary>
    /// Every rank's features of one batch in the order one process sees them (rank r's video j of batch b is position
    /// (b·B + j)·W + r of the unshuffled split, as <see cref="Evaluator"/> gathers logits), padding rows left out.
    /// </summary>
    private (Tensor Features, ViewBatch Rows) Gather(ClipLoader loader, ClipBatch batch, ViewBatch local, Tensor features)
    {
        var (views, rows, world) = (local.Views, local.Rows, _dist.WorldSize);
        var meta = new float[rows * 2];
        for (var row = 0; row < rows; row++)
        {
            meta[2 * row] = local.Labels[row];
            meta[(2 * row) + 1] = batch.SampleIndices[row / views];
        }
        var allMeta = _dist.AllGather(Tensor.From(meta, rows, 2).To(_dist.Device)).Cpu().ToArray<float>();  // [W, rows, 2]
        var all = _dist.AllGather(features.Contiguous());  // [W, rows, ...]
        all = all.Reshape([world * rows, .. features.Shape[1..]]);
        var kept = new List<long>();
        for (var video = 0; video < rows / views; video++)
        {
            for (var rank = 0; rank < world; rank++)
            {
                var position = ((((long)batch.Index * loader.BatchSize) + video) * world) + rank;
                if (position < loader.DatasetCount)
                {
                    kept.AddRange(Enumerable.Range((rank * rows) + (video * views), views).Select(r => (long)r));
                }
            }
        }
        var labels = kept.Select(k => (int)allMeta[2 * k]).ToArray();
        var ids = kept.Where((_, i) => i % views == 0).Select(k => loader.SampleId((int)allMeta[(2 * k) + 1])).ToArray();
        var index = Tensor.From(kept.ToArray(), kept.Count).To(all.Device);
        return (all.IndexSelect(0, index), ViewBatch.FromRows(labels, ids, views));
    }

    /// <summary>The permutation <see cref="ClipLoader.EpochOrder"/> draws for a shuffled loader with this seed.</summary>
    public static int[] EpochOrder(long seed, int epoch, int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        var rng = new Random(Seeds.Derive((int)seed, epoch, -1));
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private EvalResult EvaluateCached(Module head, CachedFeatures cache)
    {
        var views = cache.Metadata.TryGetValue("views", out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : 1;
        var aggregator = new MultiViewAggregator(_numClasses);
        var lossSum = 0.0;
        var size = Math.Max(1, _config.Train.BatchSize);
        using var noGrad = Torch.NoGrad();
        for (var start = 0; start < cache.Count; start += size)
        {
            var end = Math.Min(cache.Count, start + size);
            using var scope = Torch.NewScope();
            var features = cache.Features.Slice(0, start, end).To(_device);
            var labels = Tensor.From(cache.Labels[start..end], end - start).To(_device);
            Tensor logits;
            using (Autocast ? Torch.Autocast(_device) : null)
            {
                logits = Forward(head, features);
            }
            logits = logits.Float();
            lossSum += Torch.CrossEntropy(logits, labels, reduction: Reduction.Sum).Item();
            var rowLabels = cache.Labels[start..end].Select(l => (int)l).ToArray();
            var keys = Enumerable.Range(start, end - start).Select(r => $"view{r % views}").ToArray();
            aggregator.Add(cache.VideoIds[start..end], rowLabels, logits, keys);
        }
        var predictions = aggregator.Results();
        return new EvalResult(Metrics.Compute(predictions, _numClasses), predictions, lossSum / Math.Max(1, cache.Count), views);
    }

    private Result FitRidge(CachedFeatures train, CachedFeatures val)
    {
        using var probe = ClosedFormProbe.Fit(train.Features, train.Labels, _numClasses, Probe.RidgeLambda);
        var views = val.Metadata.TryGetValue("views", out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : 1;
        var aggregator = new MultiViewAggregator(_numClasses);
        double loss;
        using (var scope = Torch.NewScope())
        {
            var scores = probe.Predict(val.Features);
            loss = Torch.CrossEntropy(scores, Tensor.From(val.Labels, val.Count)).Item();
            aggregator.Add(val.VideoIds, [.. val.Labels.Select(l => (int)l)], scores, [.. Enumerable.Range(0, val.Count).Select(r => $"view{r % views}")]);
        }
        var predictions = aggregator.Results();
        var result = new EvalResult(Metrics.Compute(predictions, _numClasses), predictions, loss, views);
        var trainAcc = probe.Accuracy(train.Features, train.Labels);
        double trainLoss;
        using (var scope = Torch.NewScope())
        {
            trainLoss = Torch.CrossEntropy(probe.Predict(train.Features), Tensor.From(train.Labels, train.Count)).Item();
        }
        var m = result.Metrics;
        // A closed-form fit has no steps and no lr: one line with the same keys the trained probes log per epoch.
        _run?.Metrics.Write(("step", 0L), ("epoch", 0), ("train/loss", trainLoss), ("train/acc1", trainAcc), ("val/loss", loss), ("val/acc1", m.Top1),
            ("val/acc5", m.Top5), ("val/mean_class_acc", m.MeanClassAccuracy), ("opt/ridge_lambda", Probe.RidgeLambda));
        LogEval(0, result, trainLoss);
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ridge (lambda {Probe.RidgeLambda:G3}): train acc1 {trainAcc * 100:F2}% | val acc1 {m.Top1 * 100:F2}% acc5 {m.Top5 * 100:F2}%"));
        return new Result(m.Top1, result, train.Features.Size(-1));
    }

    /// <summary>
    /// Every k of probe.knn_k on the validation split; the first k is the result (choosing k on val would select on the
    /// test split: `videossl benchmark` chooses it on a dev split). Several views of a video average their normalised votes.
    /// </summary>
    private Result FitKnn(CachedFeatures train, CachedFeatures val)
    {
        EvalResult? first = null;
        foreach (var k in Probe.KnnK)
        {
            var result = ScoreKnn(train, val, k, Probe.KnnTemperature, _numClasses);
            var m = result.Metrics;
            _run?.Metrics.Write(("step", 0L), ("epoch", 0), ("val/loss", result.Loss), ("val/acc1", m.Top1), ("val/acc5", m.Top5),
                ("val/mean_class_acc", m.MeanClassAccuracy), ("knn/k", k));
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"knn (k {k}, T {Probe.KnnTemperature:G3}): val acc1 {m.Top1 * 100:F2}% acc5 {m.Top5 * 100:F2}%"));
            first ??= result;
        }
        LogEval(0, first!, double.NaN);
        return new Result(first!.Metrics.Top1, first, train.Features.Size(-1));
    }

    /// <summary>The kNN classifier of <paramref name="train"/> scored on <paramref name="query"/> (votes normalised to probabilities, views averaged per video).</summary>
    public static EvalResult ScoreKnn(CachedFeatures train, CachedFeatures query, int k, double temperature, int numClasses)
    {
        var views = query.Metadata.TryGetValue("views", out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : 1;
        var aggregator = new MultiViewAggregator(numClasses);
        double loss;
        using (var scope = Torch.NewScope())
        {
            var votes = KnnProbe.Votes(train.Features, train.Labels, query.Features, k, numClasses, temperature);
            // log of the normalised votes: the aggregator's softmax gives the vote shares back.
            var logProbs = votes.Div(votes.Sum(1, keepDim: true)).Clamp(min: 1e-12).Log();
            loss = Torch.CrossEntropy(logProbs, Tensor.From(query.Labels, query.Count)).Item();
            aggregator.Add(query.VideoIds, [.. query.Labels.Select(l => (int)l)], logProbs, [.. Enumerable.Range(0, query.Count).Select(r => $"view{r % views}")]);
        }
        var predictions = aggregator.Results();
        return new EvalResult(Metrics.Compute(predictions, numClasses), predictions, loss, views);
    }

    private void LogEval(long step, EvalResult result, double trainLoss)
    {
        var m = result.Metrics;
        if (_run is null)
        {
            return;
        }
        _run.TensorBoard.AddScalar("train/epoch_loss", (float)trainLoss, step);
        _run.TensorBoard.AddScalar("val/loss", (float)result.Loss, step);
        _run.TensorBoard.AddScalar("val/acc1", (float)m.Top1, step);
        _run.TensorBoard.AddScalar("val/acc5", (float)m.Top5, step);
        _run.TensorBoard.Flush();
    }

    private long SampleFeatureDim()
    {
        if (Attentive || Probe.Pooling == "mean")
        {
            return _encoder.EmbedDim;
        }
        return Probe.BlockPooling == "average" ? _encoder.EmbedDim : (long)_encoder.EmbedDim * Probe.LastK;
    }

    // Features are reused when a cache with the same key (encoder weights, pooling, data, views) is on disk. Data-parallel:
    // rank 0 decides, and on a miss every rank extracts its shard; only rank 0 keeps (and writes) the features.
    private CachedFeatures? CachedOrExtract(ClipLoader loader, string split)
    {
        var key = CacheKey(split);
        CachedFeatures? hit = null;
        var path = string.Empty;
        var dir = string.Empty;
        if (_run is not null)
        {
            dir = Probe.CacheDir.Length > 0 ? Probe.CacheDir : Path.Combine(_run.Path, "features");
            path = Path.Combine(dir, $"{split}.safetensors");
            if (File.Exists(path))
            {
                var cached = FeatureCache.Read(path);
                if (cached.Metadata.TryGetValue("key", out var k) && k == key)
                {
                    _out.WriteLine($"features ({split}): {cached.Count} rows from {path}");
                    hit = cached;
                }
                else
                {
                    cached.Dispose();
                }
            }
        }
        if (_dist.Sum(hit is null ? 0 : 1)[0] > 0)
        {
            return hit;
        }
        var features = Extract(loader, split, new Dictionary<string, string>(StringComparer.Ordinal) { ["key"] = key });
        if (_run is null)
        {
            features.Dispose();
            return null;
        }
        Directory.CreateDirectory(dir);
        FeatureCache.Write(path, features.Features, features.Labels, features.VideoIds, features.Metadata);
        _out.WriteLine($"features ({split}): {features.Count} rows [{string.Join(", ", features.Features.Shape)}] -> {path}");
        return features;
    }

    private string CacheKey(string split)
    {
        var init = _config.Init;
        var stamp = init.Length > 0 && File.Exists(init) ? File.GetLastWriteTimeUtc(init).Ticks.ToString(CultureInfo.InvariantCulture) : "random";
        var data = _config.Data;
        var views = split == "val" ? $"{_config.Test.Clips}x{_config.Test.Crops}" : "1x1";
        var features = Attentive ? "tokens" : $"{Probe.Pooling}:{Probe.LastK}:{Probe.BlockPooling}";
        return string.Join('|', init, stamp, _config.Seed.ToString(CultureInfo.InvariantCulture), _config.Model.Encoder, features,
            data.Format, data.Root, data.Annotations, _config.Val.Annotations, data.NumFrames.ToString(CultureInfo.InvariantCulture),
            data.SamplingRate.ToString(CultureInfo.InvariantCulture), data.InputSize.ToString(CultureInfo.InvariantCulture), _config.Protocol, views);
    }
}
