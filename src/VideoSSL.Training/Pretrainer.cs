using System.Diagnostics;
using System.Globalization;
using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.Optim;
using VideoSSL.Training.Config;

namespace VideoSSL.Training;

/// <summary>A run stopped because the loss stopped being a number.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(string message)
        : base(message)
    {
    }

    public TrainingDivergedException()
    {
    }

    public TrainingDivergedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>Hooks a higher layer (the CLI) uses to draw plots; the loop itself knows nothing of images.</summary>
public sealed class PretrainHooks
{
    public Action<long, ReconstructionSample>? OnReconstruction { get; init; }

    public Action<RunDirectory>? OnCheckpoint { get; init; }

    /// <summary>Checked at every optimizer-step boundary: when raised, the run writes a checkpoint and returns.</summary>
    public StopSignal? Stop { get; init; }

    /// <summary>The first clip's context/target masks, at reconstruction steps (methods that mask tokens).</summary>
    public Action<long, MaskPicture>? OnMasks { get; init; }
}

/// <summary>
/// The pretraining loop for every method (MAE's engine_for_pretraining, jepa's train.py), with per-step
/// schedules: lr = base_lr (× batch / 256 with train.scale_lr) with linear warmup from start_lr and cosine to
/// min_lr, weight decay constant or cosine, and the method's own scalars (EMA momentum), all logged as sched/*;
/// AdamW, optional accumulation and clipping, the method's hooks around the optimizer step, bf16 autocast on
/// CUDA, the method's named metrics, checkpoints every N steps and at the end, exact resume.
/// </summary>
public sealed class Pretrainer
{
    private readonly PretrainConfig _config;
    private readonly IPretrainTask _task;
    private readonly ClipLoader _loader;
    private readonly RunDirectory? _run;
    private readonly PretrainHooks _hooks;
    private readonly Device _device;
    private readonly TextWriter _out;
    private readonly DistributedContext _dist;

    /// <param name="run">The run folder; null on data-parallel ranks other than 0, which write nothing.</param>
    /// <param name="distributed">Data parallelism: the loader reads this rank's shard; gradients and logged metrics are averaged over ranks.</param>
    public Pretrainer(PretrainConfig config, IPretrainTask task, ClipLoader loader, RunDirectory? run, Device device, PretrainHooks? hooks = null, TextWriter? output = null,
        DistributedContext? distributed = null)
    {
        _dist = distributed ?? DistributedContext.Single;
        _config = config;
        _task = task;
        _loader = loader;
        _run = run;
        _device = device;
        _hooks = hooks ?? new PretrainHooks();
        _out = output ?? Console.Out;
    }

    public sealed record Result(long Steps, double FinalLoss, double ClipsPerSecond, TimeSpan Elapsed)
    {
        /// <summary>True when <see cref="PretrainHooks.Stop"/> ended the run early (its checkpoint is written).</summary>
        public bool Interrupted { get; init; }
    }

    /// <param name="resumeFrom">A checkpoint to continue from exactly.</param>
    /// <param name="stopAtStep">Stop after this step as an interruption would (a checkpoint is written; the schedule is unchanged).</param>
    public Result Run(string? resumeFrom = null, long stopAtStep = long.MaxValue)
    {
        var train = _config.Train;
        var batchesPerEpoch = _loader.BatchesPerEpoch;
        // The global batch counts every rank, as the official total_batch_size = batch_size × world_size (× accum).
        var plan = StepPlan.Create(batchesPerEpoch, train.BatchSize * _dist.WorldSize, train.AccumSteps, train.Epochs, train.MaxSteps, train.WarmupEpochs, train.BaseLr, train.MinLr);
        if (train.IterationsPerEpoch > 0)
        {
            var planned = (long)train.Epochs * train.IterationsPerEpoch;
            plan = plan with
            {
                TotalSteps = train.MaxSteps > 0 ? Math.Min(planned, train.MaxSteps) : planned,
                WarmupSteps = (long)Math.Round(train.WarmupEpochs * train.IterationsPerEpoch),
            };
        }
        var (accum, stepsPerEpoch, totalSteps, warmupSteps, effectiveBatch, peakLr, minLr) = plan;
        var ranks = _dist.IsDistributed ? $" x {_dist.WorldSize} ranks" : string.Empty;
        var lrScale = train.ScaleLr ? effectiveBatch / 256.0 : 1.0;
        if (!train.ScaleLr)
        {
            (peakLr, minLr) = (train.BaseLr, train.MinLr);
        }
        var schedules = Schedules(train, plan, lrScale, peakLr, minLr);
        _out.WriteLine(train.ScaleLr
            ? $"effective batch {effectiveBatch} ({train.BatchSize} x {accum} accumulation{ranks}), lr {peakLr:G4} (base {train.BaseLr:G4} x {effectiveBatch}/256), min lr {minLr:G4}"
            : $"effective batch {effectiveBatch} ({train.BatchSize} x {accum} accumulation{ranks}), lr {peakLr:G4} (not scaled by batch), min lr {minLr:G4}");
        foreach (var (name, schedule) in schedules.Scalars)
        {
            _out.WriteLine($"schedule {name}: {schedule.Description}");
        }
        _out.WriteLine($"{totalSteps} steps ({stepsPerEpoch} per epoch), warmup {warmupSteps} steps, {_task.Model.ParameterCount(true):N0} trainable parameters, device {_device}");

        using var optimizer = new AdamW(_task.ParamGroups(train.WeightDecay), peakLr, train.Betas[0], train.Betas[1]);
        var state = new TrainerState(0, 0, 0, 0, double.NaN, ConfigLoader.ToJson(_config));
        if (resumeFrom is not null)
        {
            state = Checkpoint.Load(resumeFrom, _task.Model, optimizer);
            _out.WriteLine($"resumed from {resumeFrom} at step {state.Step} (epoch {state.Epoch}, batch {state.BatchInEpoch})");
            if (_dist.Rank != 0)
            {
                // The checkpoint holds rank 0's generator; the other ranks keep drawing their own (drop path).
                Torch.Torch.ManualSeed((ulong)Seeds.ForRank(Seeds.Derive(_config.Seed, state.Step), _dist.Rank));
            }
        }
        // As DDP's constructor: every rank starts from rank 0's weights (EMA teachers included, being in the model).
        _dist.Broadcast(_task.Model.Parameters().Select(p => p.Value).Concat(_task.Model.NamedBuffers().Select(b => b.Value)));

        var progress = new Progress(_out, totalSteps, state.Step);
        var watch = Stopwatch.StartNew();
        long clipsSeen = 0;
        var step = state.Step;
        var lastLoss = state.LastLoss;
        var useAutocast = _device.IsCuda && train.Bf16;
        var lossSum = 0.0;
        var lossCount = 0;
        // Logged loss = mean over the steps since the last log line, so a curve is not one batch's noise.
        var intervalSum = 0.0;
        var intervalCount = 0;
        var interrupted = false;
        var metricSums = new SortedDictionary<string, (double Sum, int Count)>(StringComparer.Ordinal);
        var scalars = new Dictionary<string, double>(StringComparer.Ordinal);
        // Reconstruction grids and mask pictures show the same clips at every step (the first of the first batch this process sees).
        (float[] Data, long[] Shape)? shown = null;
        for (var epoch = (int)state.Epoch; step < totalSteps && step < stopAtStep && !interrupted; epoch++)
        {
            var startBatch = epoch == state.Epoch ? (int)state.BatchInEpoch : 0;
            var batchInEpoch = startBatch;
            foreach (var batch in _loader.Epoch(epoch, startBatch))
            {
                // Batches past the last whole accumulation group of the epoch are skipped, not carried over.
                if (batchInEpoch >= stepsPerEpoch * accum)
                {
                    break;
                }
                var micro = (batchInEpoch - startBatch) % accum;
                if (_hooks.OnReconstruction is not null || _hooks.OnMasks is not null)
                {
                    shown ??= FirstClips(batch, ReconstructionSample.DefaultClips);
                }
                foreach (var (name, schedule) in schedules.Scalars)
                {
                    scalars[name] = schedule.At(step);
                }
                optimizer.Lr = scalars["lr"];
                if (train.WeightDecay > 0)
                {
                    optimizer.WeightDecayScale = scalars["wd"] / train.WeightDecay;
                }
                double lossValue;
                using (var scope = Torch.Torch.NewScope())
                {
                    var views = PretrainBatches.Views(batch, _task.Views, _device, step, micro);
                    PretrainOutput output;
                    using (useAutocast ? Torch.Torch.Autocast(_device) : null)
                    {
                        output = _task.Loss(views);
                    }
                    var loss = output.Loss;
                    lossValue = loss.Item();
                    foreach (var (name, value) in output.Metrics ?? new Dictionary<string, Tensor>())
                    {
                        var (sum, count) = metricSums.GetValueOrDefault(name);
                        metricSums[name] = (sum + value.Item(), count + 1);
                    }
                    if (!double.IsFinite(lossValue))
                    {
                        throw new TrainingDivergedException(
                            $"loss is {lossValue} at step {step} (epoch {epoch}, batch {batchInEpoch}); stopping. {(_run is null ? string.Empty : Checkpoint.LastGood(_run))} Lower train.base_lr or set train.clip_grad.");
                    }
                    (accum == 1 ? loss : loss.Div(accum)).Backward();
                }
                batchInEpoch++;
                clipsSeen += ClipsIn(batch) * _dist.WorldSize;
                lossSum += lossValue;
                lossCount++;
                if (micro != accum - 1)
                {
                    continue;
                }
                _dist.AverageGradients(_task.Model.Parameters().Select(p => p.Value));
                // Without clipping the norm is still measured (an infinite threshold scales nothing), so curves always have it.
                var gradNorm = GradClip.ClipGradNorm(_task.Model.Parameters(), train.ClipGrad > 0 ? train.ClipGrad : double.PositiveInfinity);
                var stepContext = new OptimizerStepContext(step, schedules.Plan, scalars);
                _task.BeforeOptimizerStep(stepContext);
                optimizer.Step();
                optimizer.ZeroGrad();
                _task.AfterOptimizerStep(stepContext);
                step++;
                lastLoss = _dist.Average(lossSum / lossCount)[0];
                lossSum = 0;
                lossCount = 0;
                intervalSum += lastLoss;
                intervalCount++;

                interrupted = _hooks.Stop?.Requested == true && step < totalSteps;
                var done = step >= totalSteps || step >= stopAtStep || interrupted;
                if (_run is not null && (step % _config.Log.EverySteps == 0 || done))
                {
                    var seconds = watch.Elapsed.TotalSeconds;
                    var clipsPerSecond = clipsSeen / Math.Max(seconds, 1e-9);
                    // CUDA: the caching allocator's peak; CPU: the process's resident memory.
                    var memory = _device.IsCuda ? Torch.Torch.CudaMemory(_device.Index).PeakAllocated / 1048576.0 : Environment.WorkingSet / 1048576.0;
                    var intervalLoss = intervalSum / intervalCount;
                    intervalSum = 0;
                    intervalCount = 0;
                    var logged = metricSums.ToDictionary(kv => kv.Key, kv => kv.Value.Sum / kv.Value.Count, StringComparer.Ordinal);
                    metricSums.Clear();
                    var extra = logged.Select(kv => (kv.Key, (object)kv.Value))
                        .Concat(scalars.Where(kv => kv.Key is not "lr").Select(kv => ($"sched/{kv.Key}", (object)kv.Value)));
                    _run.Metrics.Write([("step", step), ("epoch", epoch), ("train/loss", intervalLoss), ("opt/lr", optimizer.Lr),
                        ("opt/grad_norm", gradNorm), ("perf/clips_per_s", clipsPerSecond), ("mem/peak_mib", memory), ("time", seconds), .. extra]);
                    _run.TensorBoard.AddScalar("train/loss", (float)intervalLoss, step);
                    _run.TensorBoard.AddScalar("opt/lr", (float)optimizer.Lr, step);
                    foreach (var (name, value) in extra)
                    {
                        _run.TensorBoard.AddScalar(name, (float)(double)value, step);
                    }
                    progress.Report(step, epoch, intervalLoss, optimizer.Lr, clipsPerSecond, memory);
                    if (_task.Check(logged) is { } warning)
                    {
                        _out.WriteLine($"step {step}: {warning}");
                    }
                }
                if (_run is not null && (_hooks.OnReconstruction is not null || _hooks.OnMasks is not null) && (step % _config.Log.ReconstructionEverySteps == 0 || done))
                {
                    using var scope = Torch.Torch.NewScope();
                    using var noGrad = Torch.Torch.NoGrad();
                    var views = PretrainBatches.Views(shown!.Value.Data, shown.Value.Shape, _task.Views, _device, step);
                    if (_hooks.OnReconstruction is not null && _task.Reconstruct(views) is { } sample)
                    {
                        _hooks.OnReconstruction(step, sample);
                    }
                    if (_hooks.OnMasks is not null && _task.Masks(views) is { } picture)
                    {
                        _hooks.OnMasks(step, picture);
                    }
                }
                var epochDone = batchInEpoch >= stepsPerEpoch * accum;
                if (_run is not null && (step % _config.Log.CheckpointEverySteps == 0 || done))
                {
                    Checkpoint.SaveProgress(_run, _task.Model, optimizer, step, epoch, batchInEpoch, epochDone, lastLoss, state.ConfigJson, _config.Log.KeepEverySteps);
                    _hooks.OnCheckpoint?.Invoke(_run);
                }
                if (done)
                {
                    break;
                }
            }
            if (_loader.Failures.Count > 0)
            {
                _out.WriteLine($"epoch {epoch}: {_loader.Failures.Count} unreadable videos skipped so far (first: {_loader.Failures[0].Sample}: {_loader.Failures[0].Error})");
            }
        }
        progress.Finish();
        if (_dist.IsDistributed)
        {
            var same = _dist.SameOnAllRanks(_task.Model.Parameters().Select(p => p.Value).Concat(_task.Model.NamedBuffers().Select(b => b.Value)));
            _out.WriteLine(same ? $"parameters and buffers identical on all {_dist.WorldSize} ranks" : $"warning: parameters differ between the {_dist.WorldSize} ranks");
        }
        var elapsed = watch.Elapsed;
        return new Result(step, lastLoss, clipsSeen / Math.Max(elapsed.TotalSeconds, 1e-9), elapsed) { Interrupted = interrupted };
    }

    /// <summary>lr, wd and the method's scalars, laid over schedule_scale × the planned steps.</summary>
    private (IReadOnlyDictionary<string, ScalarSchedule> Scalars, SchedulePlan Plan) Schedules(OptimSection train, StepPlan plan, double lrScale, double peakLr, double minLr)
    {
        if (train.ScheduleScale < 1)
        {
            throw new ConfigException($"train.schedule_scale={train.ScheduleScale}: must be at least 1 (the schedules' horizon is this × the planned steps)");
        }
        var horizon = (long)(plan.TotalSteps * train.ScheduleScale);
        var startLr = train.StartLr * lrScale;
        var schedulePlan = new SchedulePlan(horizon, train.IterationsPerEpoch > 0 ? train.IterationsPerEpoch : plan.StepsPerEpoch, plan.WarmupSteps);
        var scalars = new Dictionary<string, ScalarSchedule>(StringComparer.Ordinal)
        {
            ["lr"] = new($"warmup {startLr:G4} -> {peakLr:G4} over {plan.WarmupSteps} steps, cosine to {minLr:G4} at step {horizon}",
                s => Schedule.WarmupCosine(s, peakLr, minLr, plan.WarmupSteps, horizon, startLr)),
            ["wd"] = train.WeightDecayEnd is { } end ? ScalarSchedule.JepaCosine(train.WeightDecay, end, horizon) : ScalarSchedule.Constant(train.WeightDecay),
        };
        foreach (var (name, schedule) in _task.Schedules(schedulePlan))
        {
            scalars.Add(name, schedule);
        }
        return (scalars, schedulePlan);
    }

    // A copy: the loader recycles batch buffers.
    private static (float[] Data, long[] Shape) FirstClips(ClipBatch batch, int count)
    {
        var shape = batch.Shape.Select(s => (long)s).ToArray();
        if (shape.Length == 6)
        {
            shape = [shape[0] * shape[1], .. shape[2..]];
        }
        shape[0] = Math.Min(shape[0], count);
        var length = shape.Aggregate(1L, (a, b) => a * b);
        return (batch.Data.AsSpan(0, (int)length).ToArray(), shape);
    }

    private static long ClipsIn(ClipBatch batch) => batch.Shape.Length == 6 ? (long)batch.Shape[0] * batch.Shape[1] : batch.Shape[0];

    /// <summary>A tqdm-style bar on a terminal; MAE-style plain lines when output is redirected.</summary>
    internal sealed class Progress(TextWriter output, long total, long start)
    {
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private readonly bool _interactive = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

        public void Report(long step, int epoch, double loss, double lr, double clipsPerSecond, double memoryMib)
        {
            var done = step - start;
            var rate = done / Math.Max(_watch.Elapsed.TotalSeconds, 1e-9);
            var eta = rate > 0 ? TimeSpan.FromSeconds((total - step) / rate) : TimeSpan.Zero;
            var memory = double.IsNaN(memoryMib) ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" mem {memoryMib:F0}MiB");
            if (_interactive)
            {
                var fraction = (double)step / Math.Max(total, 1);
                var filled = (int)(fraction * 24);
                output.Write(string.Create(CultureInfo.InvariantCulture,
                    $"\r{fraction * 100,3:F0}%|{new string('█', filled)}{new string(' ', 24 - filled)}| {step}/{total} [eta {eta:hh\\:mm\\:ss}, {clipsPerSecond:F1} clips/s, loss={loss:F4}, lr={lr:E2}{memory}]   "));
            }
            else
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Epoch: [{epoch}] [{step}/{total}] eta: {eta:hh\\:mm\\:ss} lr: {lr:E3} loss: {loss:F4} clips/s: {clipsPerSecond:F1}{memory}"));
            }
        }

        public void Finish()
        {
            if (_interactive)
            {
                output.WriteLine();
            }
        }
    }
}
