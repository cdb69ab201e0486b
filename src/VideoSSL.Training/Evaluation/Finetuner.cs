using System.Globalization;
using System.Text.Json;
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

/// <summary>Hooks a higher layer (the CLI) uses to draw plots after each validation.</summary>
public sealed class FinetuneHooks
{
    public Action<RunDirectory>? OnEpoch { get; init; }

    /// <summary>Checked at every optimizer-step boundary: when raised, the run writes a checkpoint and returns.</summary>
    public StopSignal? Stop { get; init; }
}

/// <summary>
/// Fine-tuning (VideoMAE's engine_for_finetuning, per-step schedule) on the shared <see cref="TrainingLoop"/>: layer-wise
/// lr decay, mixup/cutmix with soft-target cross-entropy (label-smoothed cross-entropy without mixup), random erasing on
/// the batch, drop path in the model, warmup + cosine, bf16 autocast on CUDA, single-view validation per epoch
/// (metrics.jsonl: val/loss, val/acc1, val/acc5), checkpoint last, exact resume, data parallelism (each rank mixes its
/// own batch, as the official code under DDP; validation gathers every rank's predictions). The result is the final
/// epoch's weights: the validation split is the held-out one, so choosing an epoch on it would report a selected
/// figure. Only with a separate selection split (select/acc1 in metrics.jsonl) is the best epoch on that split kept as
/// best.safetensors.
/// </summary>
public sealed class Finetuner
{
    public const string BestCheckpointName = "best.safetensors";

    private readonly FinetuneConfig _config;
    private readonly VideoEncoder _model;
    private readonly IVideoClassifier _classifier;
    private readonly ClipLoader _train;
    private readonly ClipLoader? _val;
    private readonly RunDirectory? _run;
    private readonly Device _device;
    private readonly FinetuneHooks _hooks;
    private readonly TextWriter _out;
    private readonly ClipLoader? _select;
    private readonly DistributedContext _dist;

    /// <param name="run">The run folder; null on data-parallel ranks other than 0, which write nothing.</param>
    /// <param name="select">A held-out split, other than <paramref name="val"/>, to choose the best epoch on; null = no choice, the final epoch is the result.</param>
    /// <param name="model">A classifier (<see cref="IVideoClassifier"/>): VideoMAE's or TimeSformer's.</param>
    /// <param name="distributed">Data parallelism: every loader reads this rank's shard; gradients and logged figures are averaged over ranks.</param>
    public Finetuner(FinetuneConfig config, VideoEncoder model, ClipLoader train, ClipLoader? val, RunDirectory? run, Device device, FinetuneHooks? hooks = null, TextWriter? output = null,
        ClipLoader? select = null, DistributedContext? distributed = null)
    {
        _select = select;
        _config = config;
        _model = model;
        _classifier = model as IVideoClassifier ?? throw new ArgumentException($"model '{model.Config.Name}' has no classification head", nameof(model));
        _train = train;
        _val = val;
        _run = run;
        _device = device;
        _hooks = hooks ?? new FinetuneHooks();
        _out = output ?? Console.Out;
        _dist = distributed ?? DistributedContext.Single;
    }

    /// <summary>The run's best.safetensors (rank 0 only: the ranks without a run folder have none).</summary>
    public string BestCheckpoint => Path.Combine(_run?.CheckpointDir ?? throw new InvalidOperationException("only rank 0 has a run folder"), BestCheckpointName);

    /// <param name="BestAcc1">The best top-1 on the selection split (-∞ without one); <paramref name="LastEval"/> is the final validation.</param>
    public sealed record Result(long Steps, double FinalLoss, double BestAcc1, EvalResult? LastEval, TimeSpan Elapsed)
    {
        /// <summary>True when <see cref="FinetuneHooks.Stop"/> ended the run early (its checkpoint is written).</summary>
        public bool Interrupted { get; init; }
    }

    /// <param name="resumeFrom">A checkpoint of this run to continue from exactly.</param>
    /// <param name="stopAtStep">Stop after this step as an interruption would (a checkpoint is written; the schedule is unchanged).</param>
    public Result Run(string? resumeFrom = null, long stopAtStep = long.MaxValue)
    {
        var train = _config.Train;
        _out.WriteLine($"fine-tuning {_classifier.NumClasses} classes, layer decay {train.LayerDecay}, {Math.Max(1, _config.Aug.NumSample)} augmented views per video (the lr scales by videos, not views)");
        var objective = new Objective(this);
        if (resumeFrom is not null)
        {
            // Rank 0 reads the run's record of it; -inf + 0 stays -inf.
            objective.BestAcc1 = _dist.Sum(_run is null ? 0 : BestSoFar(Checkpoint.ReadState(resumeFrom).Step))[0];
            if (double.IsFinite(objective.BestAcc1))
            {
                _out.WriteLine($"best selection-split acc1 so far {objective.BestAcc1 * 100:F2}%");
            }
        }
        var options = new LoopOptions(train.ToOptim(), _config.Log, ConfigLoader.ToJson(_config), _config.Seed)
        {
            CheckpointEachEpoch = true,
            Stop = _hooks.Stop,
            OnCheckpoint = _hooks.OnEpoch,
        };
        _model.Train();
        var result = new TrainingLoop(options, objective, _train, _run, _device, _out, _dist).Run(resumeFrom, stopAtStep);
        return new Result(result.Steps, result.FinalLoss, objective.BestAcc1, objective.LastEval, result.Elapsed) { Interrupted = result.Interrupted };
    }

    /// <summary>A batch's loss: random erasing, mixup/cutmix, the classifier, the criterion; validation at the end of an epoch.</summary>
    private sealed class Objective : ITrainingObjective
    {
        private readonly Finetuner _owner;
        private readonly Mixup? _mixup;
        private readonly RandomErasing? _erasing;
        private readonly bool _autocast;
        private long _hits;
        private long _rows;

        public Objective(Finetuner owner)
        {
            _owner = owner;
            var aug = owner._config.Aug;
            _mixup = aug.Mixup > 0 || aug.Cutmix > 0
                ? new Mixup(owner._classifier.NumClasses, aug.Mixup, aug.Cutmix, aug.MixupProb, aug.SwitchProb, aug.LabelSmoothing)
                : null;
            _erasing = aug.Reprob > 0 ? new RandomErasing(aug.Reprob, ErasingMode.Pixel) : null;
            _autocast = owner._device.IsCuda && owner._config.Train.Bf16;
        }

        public double BestAcc1 { get; set; } = double.NegativeInfinity;

        public EvalResult? LastEval { get; private set; }

        public Module Model => _owner._model;

        public IReadOnlyList<ParamGroup> ParamGroups(double weightDecay) =>
            VideoSSL.Methods.ParamGroups.LayerDecay(_owner._model, _owner._model.Config.Depth, _owner._config.Train.LayerDecay, weightDecay);

        public PretrainOutput Loss(ClipBatch batch, BatchPosition at)
        {
            var (config, device) = (_owner._config, _owner._device);
            var views = ViewBatch.From(batch);
            if (_mixup is not null && views.Rows % 2 != 0)
            {
                throw new ConfigException($"mixup needs an even number of clips per batch, got {views.Rows} (train.batch_size x aug.num_sample)");
            }
            if (_erasing is not null)
            {
                Erase(_erasing, views, batch, at.Epoch, config.Seed);
            }
            var clips = views.Clips(device);
            var labels = views.LabelTensor(device);
            Tensor? targets = null;
            if (_mixup is not null)
            {
                // Each rank mixes its own batch with its own draws (the official code seeds numpy with seed + rank); rank 0 = one process.
                var mixed = _mixup.Apply(clips, labels, new Random(Seeds.Derive(Seeds.ForRank(config.Seed, _owner._dist.Rank), at.Epoch, at.BatchInEpoch, 0x6D6978)));
                clips = mixed.Clips;
                targets = mixed.Targets;
            }
            Tensor logits;
            using (_autocast ? Torch.Autocast(device) : null)
            {
                logits = _owner._classifier.Classify(clips);
            }
            logits = logits.Float();
            var loss = targets is not null
                ? Torch.SoftTargetCrossEntropy(logits, targets)
                : Torch.CrossEntropy(logits, labels, config.Aug.LabelSmoothing);
            if (targets is null)
            {
                // Training accuracy means something only against unmixed labels.
                _hits += (long)logits.ArgMax(1).Eq(labels).Sum().Item();
                _rows += views.Rows;
            }
            return new PretrainOutput(loss);
        }

        public void EndOfEpoch(EpochEnd end)
        {
            var every = _owner._config.Train.ValEveryEpochs;
            var (hits, rows) = (_hits, _rows);
            (_hits, _rows) = (0, 0);
            if (_owner._val is null || !(end.LastEpoch || (every > 0 && (end.Epoch + 1) % every == 0)))
            {
                return;
            }
            var counts = _owner._dist.Sum(hits, rows);
            LastEval = _owner.Validate(end.Epoch, end.Step, end.TrainLoss, counts[1] > 0 ? counts[0] / counts[1] : double.NaN);
            var selectAcc1 = _owner._select is null ? double.NaN : _owner.ScoreSelection(end.Epoch, end.Step);
            if (selectAcc1 > BestAcc1 && Checkpoint.ParametersFinite(_owner._model))
            {
                BestAcc1 = selectAcc1;
                if (_owner._run is not null)
                {
                    Checkpoint.Save(_owner.BestCheckpoint, _owner._model, null, end.Position);
                    _owner._out.WriteLine($"new best selection-split acc1 {BestAcc1 * 100:F2}% -> {_owner.BestCheckpoint}");
                }
            }
        }
    }

    // Top-1 on the selection split, logged as select/acc1; only this figure ever chooses an epoch.
    private double ScoreSelection(int epoch, long step)
    {
        _model.Eval();
        EvalResult result;
        try
        {
            result = Evaluator.Run(_classifier.Classify, _select!, _classifier.NumClasses, _device, _config.Train.Bf16, distributed: _dist);
        }
        finally
        {
            _model.Train();
        }
        _run?.Metrics.Write(("step", step), ("epoch", epoch), ("select/loss", result.Loss), ("select/acc1", result.Metrics.Top1));
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}: selection split acc1 {result.Metrics.Top1 * 100:F2}%"));
        return result.Metrics.Top1;
    }

    private EvalResult Validate(int epoch, long step, double trainLoss, double trainAcc1)
    {
        _model.Eval();
        EvalResult result;
        try
        {
            result = Evaluator.Run(_classifier.Classify, _val!, _classifier.NumClasses, _device, _config.Train.Bf16, distributed: _dist);
        }
        finally
        {
            _model.Train();
        }
        var m = result.Metrics;
        var fields = new List<(string, object?)>
        {
            ("step", step), ("epoch", epoch), ("train/loss", trainLoss), ("val/loss", result.Loss),
            ("val/acc1", m.Top1), ("val/acc5", m.Top5), ("val/mean_class_acc", m.MeanClassAccuracy),
        };
        if (double.IsFinite(trainAcc1))
        {
            fields.Add(("train/acc1", trainAcc1));
        }
        if (_run is not null)
        {
            _run.Metrics.Write([.. fields]);
            _run.TensorBoard.AddScalar("val/acc1", (float)m.Top1, step);
            _run.TensorBoard.AddScalar("val/loss", (float)result.Loss, step);
        }
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch}: val ({m.Count} videos x {result.Views} views) acc1 {m.Top1 * 100:F2}% acc5 {m.Top5 * 100:F2}% loss {result.Loss:F4}; train loss {trainLoss:F4}{(double.IsFinite(trainAcc1) ? $" acc1 {trainAcc1 * 100:F2}%" : string.Empty)}"));
        return result;
    }

    // Per-clip erasing with an RNG keyed by (seed, epoch, video, view), so a resumed run erases the same boxes, and
    // N ranks erase what one process would.
    private static void Erase(RandomErasing erasing, ViewBatch views, ClipBatch batch, int epoch, long seed)
    {
        var s = views.Shape;
        var perRow = (int)(s[1] * s[2] * s[3] * s[4]);
        for (var r = 0; r < views.Rows; r++)
        {
            var rng = new Random(Seeds.Derive(seed ^ 0x45524153, epoch, batch.SampleIndices[r / views.Views], r % views.Views));
            erasing.Apply(views.Data.AsSpan(r * perRow, perRow), (int)s[1], (int)s[2], (int)s[3], (int)s[4], rng);
        }
    }

    // The best selection-split top-1 logged up to the resumed step (the run's metrics.jsonl is the record of it).
    private double BestSoFar(long step)
    {
        var best = double.NegativeInfinity;
        var path = _run!.Metrics.FilePath;
        if (!File.Exists(path))
        {
            return best;
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.TryGetProperty("select/acc1", out var acc) && acc.ValueKind == JsonValueKind.Number
                && root.TryGetProperty("step", out var s) && s.GetInt64() <= step)
            {
                best = Math.Max(best, acc.GetDouble());
            }
        }
        return best;
    }
}
