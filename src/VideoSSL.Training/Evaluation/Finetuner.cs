using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Torch;
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
/// The fine-tuning loop (VideoMAE's engine_for_finetuning, per-step schedule): layer-wise lr decay, mixup/cutmix with
/// soft-target cross-entropy (label-smoothed cross-entropy without mixup), random erasing on the batch, drop path in
/// the model, warmup + cosine, bf16 autocast on CUDA, single-view validation per epoch (metrics.jsonl: val/loss,
/// val/acc1, val/acc5), checkpoint last, exact resume. The result is the final epoch's weights: the validation split
/// is the held-out one, so choosing an epoch on it would report a selected figure. Only with a separate selection
/// split (select/acc1 in metrics.jsonl) is the best epoch on that split kept as best.safetensors.
/// </summary>
public sealed class Finetuner
{
    public const string BestCheckpointName = "best.safetensors";

    private readonly FinetuneConfig _config;
    private readonly VideoEncoder _model;
    private readonly IVideoClassifier _classifier;
    private readonly ClipLoader _train;
    private readonly ClipLoader? _val;
    private readonly RunDirectory _run;
    private readonly Device _device;
    private readonly FinetuneHooks _hooks;
    private readonly TextWriter _out;
    private readonly ClipLoader? _select;

    /// <param name="select">A held-out split, other than <paramref name="val"/>, to choose the best epoch on; null = no choice, the final epoch is the result.</param>
    /// <param name="model">A classifier (<see cref="IVideoClassifier"/>): VideoMAE's or TimeSformer's.</param>
    public Finetuner(FinetuneConfig config, VideoEncoder model, ClipLoader train, ClipLoader? val, RunDirectory run, Device device, FinetuneHooks? hooks = null, TextWriter? output = null,
        ClipLoader? select = null)
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
    }

    public string BestCheckpoint => Path.Combine(_run.CheckpointDir, BestCheckpointName);

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
        var aug = _config.Aug;
        var numClasses = _classifier.NumClasses;
        var batchesPerEpoch = _train.BatchesPerEpoch;
        // VideoMAE scales by videos per step; the repeated-augmentation views do not count.
        var (accum, stepsPerEpoch, totalSteps, warmupSteps, effectiveBatch, peakLr, minLr) =
            StepPlan.Create(batchesPerEpoch, train.BatchSize, train.AccumSteps, train.Epochs, train.MaxSteps, train.WarmupEpochs, train.BaseLr, train.MinLr);
        var depth = _model.Config.Depth;
        _out.WriteLine($"effective batch {effectiveBatch} videos ({train.BatchSize} x {accum} accumulation, x{Math.Max(1, aug.NumSample)} views each), lr {peakLr:G4} (base {train.BaseLr:G4} x {effectiveBatch}/256), min lr {minLr:G4}, layer decay {train.LayerDecay}");
        _out.WriteLine($"{totalSteps} steps ({stepsPerEpoch} per epoch), warmup {warmupSteps} steps, {_model.ParameterCount(true):N0} trainable parameters, {numClasses} classes, device {_device}");

        Mixup? mixup = aug.Mixup > 0 || aug.Cutmix > 0
            ? new Mixup(numClasses, aug.Mixup, aug.Cutmix, aug.MixupProb, aug.SwitchProb, aug.LabelSmoothing)
            : null;
        RandomErasing? erasing = aug.Reprob > 0 ? new RandomErasing(aug.Reprob, ErasingMode.Pixel) : null;
        using var optimizer = new AdamW(ParamGroups.LayerDecay(_model, depth, train.LayerDecay, train.WeightDecay), peakLr, train.Betas[0], train.Betas[1]);
        var state = new TrainerState(0, 0, 0, 0, double.NaN, ConfigLoader.ToJson(_config));
        var bestAcc1 = double.NegativeInfinity;
        if (resumeFrom is not null)
        {
            state = Checkpoint.Load(resumeFrom, _model, optimizer);
            bestAcc1 = BestSoFar(state.Step);
            _out.WriteLine($"resumed from {resumeFrom} at step {state.Step} (epoch {state.Epoch}, batch {state.BatchInEpoch}){(double.IsFinite(bestAcc1) ? $", best selection-split acc1 so far {bestAcc1 * 100:F2}%" : string.Empty)}");
        }

        var progress = new Pretrainer.Progress(_out, totalSteps, state.Step);
        var watch = Stopwatch.StartNew();
        long clipsSeen = 0;
        var step = state.Step;
        var lastLoss = state.LastLoss;
        var useAutocast = _device.IsCuda && train.Bf16;
        var lossSum = 0.0;
        var lossCount = 0;
        EvalResult? lastEval = null;
        _model.Train();
        var interrupted = false;
        for (var epoch = (int)state.Epoch; step < totalSteps && step < stopAtStep && !interrupted; epoch++)
        {
            var startBatch = epoch == state.Epoch ? (int)state.BatchInEpoch : 0;
            var batchInEpoch = startBatch;
            var epochLoss = 0.0;
            var epochBatches = 0;
            long hits = 0;
            long rows = 0;
            foreach (var batch in _train.Epoch(epoch, startBatch))
            {
                if (batchInEpoch >= stepsPerEpoch * accum)
                {
                    break;
                }
                var micro = (batchInEpoch - startBatch) % accum;
                optimizer.Lr = Schedule.WarmupCosine(step, peakLr, minLr, warmupSteps, totalSteps);
                var views = ViewBatch.From(batch);
                if (mixup is not null && views.Rows % 2 != 0)
                {
                    throw new ConfigException($"mixup needs an even number of clips per batch, got {views.Rows} (train.batch_size x aug.num_sample)");
                }
                if (erasing is not null)
                {
                    Erase(erasing, views, epoch, batchInEpoch);
                }
                double lossValue;
                using (var scope = Torch.NewScope())
                {
                    var clips = views.Clips(_device);
                    var labels = views.LabelTensor(_device);
                    Tensor? targets = null;
                    if (mixup is not null)
                    {
                        var mixed = mixup.Apply(clips, labels, new Random(Seeds.Derive(_config.Seed, epoch, batchInEpoch, 0x6D6978)));
                        clips = mixed.Clips;
                        targets = mixed.Targets;
                    }
                    Tensor logits;
                    using (useAutocast ? Torch.Autocast(_device) : null)
                    {
                        logits = _classifier.Classify(clips);
                    }
                    logits = logits.Float();
                    var loss = targets is not null
                        ? Torch.SoftTargetCrossEntropy(logits, targets)
                        : Torch.CrossEntropy(logits, labels, aug.LabelSmoothing);
                    lossValue = loss.Item();
                    if (!double.IsFinite(lossValue))
                    {
                        throw new TrainingDivergedException(
                            $"loss is {lossValue} at step {step} (epoch {epoch}, batch {batchInEpoch}); stopping. {Checkpoint.LastGood(_run)} Lower train.base_lr or set train.clip_grad.");
                    }
                    if (targets is null)
                    {
                        // Training accuracy means something only against unmixed labels.
                        hits += (long)logits.ArgMax(1).Eq(labels).Sum().Item();
                        rows += views.Rows;
                    }
                    (accum == 1 ? loss : loss.Div(accum)).Backward();
                }
                batchInEpoch++;
                clipsSeen += batch.Size;
                lossSum += lossValue;
                lossCount++;
                epochLoss += lossValue;
                epochBatches++;
                if (micro != accum - 1)
                {
                    continue;
                }
                // Without clipping the norm is still measured (an infinite threshold scales nothing), so curves always have it.
                var gradNorm = GradClip.ClipGradNorm(_model.Parameters(), train.ClipGrad > 0 ? train.ClipGrad : double.PositiveInfinity);
                optimizer.Step();
                optimizer.ZeroGrad();
                step++;
                lastLoss = lossSum / lossCount;
                lossSum = 0;
                lossCount = 0;

                interrupted = _hooks.Stop?.Requested == true && step < totalSteps;
                var done = step >= totalSteps || step >= stopAtStep || interrupted;
                if (step % _config.Log.EverySteps == 0 || done)
                {
                    var seconds = watch.Elapsed.TotalSeconds;
                    var clipsPerSecond = clipsSeen / Math.Max(seconds, 1e-9);
                    var memory = _device.IsCuda ? Torch.CudaMemory(_device.Index).PeakAllocated / 1048576.0 : double.NaN;
                    _run.Metrics.Write(("step", step), ("epoch", epoch), ("train/loss", lastLoss), ("opt/lr", optimizer.Lr),
                        ("opt/grad_norm", gradNorm), ("perf/clips_per_s", clipsPerSecond), ("mem/peak_mib", memory), ("time", seconds));
                    _run.TensorBoard.AddScalar("train/loss", (float)lastLoss, step);
                    _run.TensorBoard.AddScalar("opt/lr", (float)optimizer.Lr, step);
                    progress.Report(step, epoch, lastLoss, optimizer.Lr, clipsPerSecond, memory);
                }
                var epochDone = batchInEpoch >= stepsPerEpoch * accum;
                var lastEpoch = step >= totalSteps;
                if (epochDone && _val is not null && (lastEpoch || (train.ValEveryEpochs > 0 && (epoch + 1) % train.ValEveryEpochs == 0)))
                {
                    // Validate before the epoch's checkpoint, so a resumed run never repeats or skips a validation.
                    lastEval = Validate(epoch, step, epochLoss / Math.Max(1, epochBatches), rows > 0 ? (double)hits / rows : double.NaN);
                    var selectAcc1 = _select is null ? double.NaN : ScoreSelection(epoch, step);
                    if (selectAcc1 > bestAcc1 && Checkpoint.ParametersFinite(_model))
                    {
                        bestAcc1 = selectAcc1;
                        Checkpoint.Save(BestCheckpoint, _model, null, new TrainerState(step, epoch + 1, 0, optimizer.StepCount, lastLoss, state.ConfigJson));
                        _out.WriteLine($"new best selection-split acc1 {bestAcc1 * 100:F2}% -> {BestCheckpoint}");
                    }
                }
                if (step % _config.Log.CheckpointEverySteps == 0 || done || epochDone)
                {
                    Checkpoint.SaveProgress(_run, _model, optimizer, step, epoch, batchInEpoch, epochDone, lastLoss, state.ConfigJson, _config.Log.KeepEverySteps);
                    _hooks.OnEpoch?.Invoke(_run);
                }
                if (done)
                {
                    break;
                }
            }
            if (_train.Failures.Count > 0)
            {
                _out.WriteLine($"epoch {epoch}: {_train.Failures.Count} unreadable videos skipped so far (first: {_train.Failures[0].Sample}: {_train.Failures[0].Error})");
            }
        }
        progress.Finish();
        return new Result(step, lastLoss, bestAcc1, lastEval, watch.Elapsed) { Interrupted = interrupted };
    }

    // Top-1 on the selection split, logged as select/acc1; only this figure ever chooses an epoch.
    private double ScoreSelection(int epoch, long step)
    {
        _model.Eval();
        EvalResult result;
        try
        {
            result = Evaluator.Run(_classifier.Classify, _select!, _classifier.NumClasses, _device, _config.Train.Bf16);
        }
        finally
        {
            _model.Train();
        }
        _run.Metrics.Write(("step", step), ("epoch", epoch), ("select/loss", result.Loss), ("select/acc1", result.Metrics.Top1));
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}: selection split acc1 {result.Metrics.Top1 * 100:F2}%"));
        return result.Metrics.Top1;
    }

    private EvalResult Validate(int epoch, long step, double trainLoss, double trainAcc1)
    {
        _model.Eval();
        EvalResult result;
        try
        {
            result = Evaluator.Run(_classifier.Classify, _val!, _classifier.NumClasses, _device, _config.Train.Bf16);
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
        _run.Metrics.Write([.. fields]);
        _run.TensorBoard.AddScalar("val/acc1", (float)m.Top1, step);
        _run.TensorBoard.AddScalar("val/loss", (float)result.Loss, step);
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch}: val ({m.Count} videos x {result.Views} views) acc1 {m.Top1 * 100:F2}% acc5 {m.Top5 * 100:F2}% loss {result.Loss:F4}; train loss {trainLoss:F4}{(double.IsFinite(trainAcc1) ? $" acc1 {trainAcc1 * 100:F2}%" : string.Empty)}"));
        return result;
    }

    // Per-clip erasing with an RNG keyed by (seed, epoch, batch, row), so a resumed run erases the same boxes.
    private void Erase(RandomErasing erasing, ViewBatch views, int epoch, int batchInEpoch)
    {
        var s = views.Shape;
        var perRow = (int)(s[1] * s[2] * s[3] * s[4]);
        for (var r = 0; r < views.Rows; r++)
        {
            var rng = new Random(Seeds.Derive(_config.Seed ^ 0x45524153, epoch, batchInEpoch, r));
            erasing.Apply(views.Data.AsSpan(r * perRow, perRow), (int)s[1], (int)s[2], (int)s[3], (int)s[4], rng);
        }
    }

    // The best selection-split top-1 logged up to the resumed step (the run's metrics.jsonl is the record of it).
    private double BestSoFar(long step)
    {
        var best = double.NegativeInfinity;
        var path = _run.Metrics.FilePath;
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
