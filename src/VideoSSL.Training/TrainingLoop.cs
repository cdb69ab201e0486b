using System.Diagnostics;
using System.Globalization;
using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;
using VideoSSL.Training.Config;

namespace VideoSSL.Training;

/// <summary>Where a micro-batch sits in the run: the optimizer step it belongs to, its epoch and batch, its index inside accumulation.</summary>
public readonly record struct BatchPosition(long Step, int Epoch, int BatchInEpoch, int MicroBatch);

/// <summary>The last optimizer step of an epoch, before its checkpoint is written.</summary>
/// <param name="TrainLoss">Mean (over ranks) loss of the epoch's steps this process ran.</param>
/// <param name="Position">The trainer state the epoch's checkpoint holds (the start of the next epoch).</param>
public sealed record EpochEnd(int Epoch, long Step, bool LastEpoch, double TrainLoss, TrainerState Position);

/// <summary>
/// What <see cref="TrainingLoop"/> optimises, i.e. what differs between pretraining (a method's task) and fine-tuning
/// (mixup, classifier, criterion, validation each epoch). Every member runs on every data-parallel rank.
/// </summary>
public interface ITrainingObjective
{
    Module Model { get; }

    IReadOnlyList<ParamGroup> ParamGroups(double weightDecay);

    /// <summary>Scalars the objective owns besides lr and weight decay (logged as <c>sched/NAME</c>).</summary>
    IReadOnlyDictionary<string, ScalarSchedule> Schedules(SchedulePlan plan) => new Dictionary<string, ScalarSchedule>();

    /// <summary>
    /// jepa steps its schedulers before each iteration's forward, so iteration i runs with the value after i + 1 steps
    /// (src/utils/schedulers.py, app/vjepa/train.py); MAE, VideoMAE and DINO index per-iteration arrays at i.
    /// </summary>
    bool JepaSchedules => false;

    /// <summary>The loss of one micro-batch (autocast, if any, is the objective's) and named scalar metrics.</summary>
    PretrainOutput Loss(ClipBatch batch, BatchPosition at);

    /// <summary>After backward, averaging over ranks and clipping, before the optimizer step.</summary>
    void BeforeOptimizerStep(OptimizerStepContext context)
    {
    }

    /// <summary>After each optimizer step (EMA teachers update here).</summary>
    void AfterOptimizerStep(OptimizerStepContext context)
    {
    }

    /// <summary>A warning for the metrics just logged, or null.</summary>
    string? Check(IReadOnlyDictionary<string, double> loggedMetrics) => null;

    /// <summary>After each optimizer step and its log line, before its checkpoint (plots, reconstruction grids).</summary>
    void AfterStep(long step, bool done)
    {
    }

    /// <summary>After an epoch's last step, before its checkpoint, so a resumed run never repeats or skips what happens here (validation).</summary>
    void EndOfEpoch(EpochEnd end)
    {
    }
}

/// <summary>What the loop reads besides the objective: the optimisation and logging sections, and the run's identity.</summary>
/// <param name="ConfigJson">The resolved config every checkpoint carries.</param>
/// <param name="Seed">The run's seed (ranks other than 0 reseed from it on resume).</param>
public sealed record LoopOptions(OptimSection Train, LogSection Log, string ConfigJson, long Seed)
{
    /// <summary>Write last.safetensors at the end of every epoch too (fine-tuning: after each validation).</summary>
    public bool CheckpointEachEpoch { get; init; }

    /// <summary>Checked at every optimizer-step boundary: when raised, the run writes a checkpoint and returns.</summary>
    public StopSignal? Stop { get; init; }

    /// <summary>After every checkpoint (rank 0): plots.</summary>
    public Action<RunDirectory>? OnCheckpoint { get; init; }
}

/// <summary>
/// The one optimisation loop of pretraining and fine-tuning (MAE's engine_for_pretraining / engine_for_finetuning,
/// jepa's train.py): epochs over the loader from any (epoch, batch), per-step schedules (lr: warmup from start_lr
/// and cosine to min_lr, scaled by the global batch / 256 unless train.scale_lr is false; weight decay constant or
/// cosine; the objective's scalars) logged as sched/*, gradient accumulation, gradients averaged over data-parallel
/// ranks, clipping (grad_norm always logged), the objective's hooks around the optimizer step, a non-finite guard
/// that never writes bad weights, periodic logging, checkpoints at intervals and at the end, stop signals, and an
/// exact resume. Only rank 0 (the one with a run folder) writes.
/// </summary>
public sealed class TrainingLoop
{
    private readonly LoopOptions _options;
    private readonly ITrainingObjective _objective;
    private readonly ClipLoader _loader;
    private readonly RunDirectory? _run;
    private readonly Device _device;
    private readonly TextWriter _out;
    private readonly DistributedContext _dist;

    /// <param name="run">The run folder; null on data-parallel ranks other than 0, which write nothing.</param>
    /// <param name="distributed">Data parallelism: the loader reads this rank's shard; gradients and logged metrics are averaged over ranks.</param>
    public TrainingLoop(LoopOptions options, ITrainingObjective objective, ClipLoader loader, RunDirectory? run, Device device, TextWriter output, DistributedContext? distributed = null)
    {
        _options = options;
        _objective = objective;
        _loader = loader;
        _run = run;
        _device = device;
        _out = output;
        _dist = distributed ?? DistributedContext.Single;
    }

    public sealed record Result(long Steps, double FinalLoss, double ClipsPerSecond, TimeSpan Elapsed, bool Interrupted);

    /// <param name="resumeFrom">A checkpoint to continue from exactly.</param>
    /// <param name="stopAtStep">Stop after this step as an interruption would (a checkpoint is written; the schedule is unchanged).</param>
    public Result Run(string? resumeFrom = null, long stopAtStep = long.MaxValue)
    {
        var train = _options.Train;
        var log = _options.Log;
        var model = _objective.Model;
        // The global batch counts every rank, as the official total_batch_size = batch_size × world_size (× accum).
        var plan = StepPlan.Create(_loader.BatchesPerEpoch, train.BatchSize * _dist.WorldSize, train.AccumSteps, train.Epochs, train.MaxSteps, train.WarmupEpochs, train.BaseLr, train.MinLr);
        if (train.IterationsPerEpoch > 0)
        {
            var planned = (long)train.Epochs * train.IterationsPerEpoch;
            plan = plan with
            {
                TotalSteps = train.MaxSteps > 0 ? Math.Min(planned, train.MaxSteps) : planned,
                // jepa: warmup_steps = int(warmup * iterations_per_epoch)
                WarmupSteps = _objective.JepaSchedules ? (long)(train.WarmupEpochs * train.IterationsPerEpoch) : (long)Math.Round(train.WarmupEpochs * train.IterationsPerEpoch),
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
        _out.WriteLine($"{totalSteps} steps ({stepsPerEpoch} per epoch), warmup {warmupSteps} steps, {model.ParameterCount(true):N0} trainable parameters, device {_device}");

        using var optimizer = new AdamW(_objective.ParamGroups(train.WeightDecay), peakLr, train.Betas[0], train.Betas[1]);
        var state = new TrainerState(0, 0, 0, 0, double.NaN, _options.ConfigJson);
        if (resumeFrom is not null)
        {
            state = Checkpoint.Load(resumeFrom, model, optimizer);
            _out.WriteLine($"resumed from {resumeFrom} at step {state.Step} (epoch {state.Epoch}, batch {state.BatchInEpoch})");
            if (_dist.Rank != 0)
            {
                // The checkpoint holds rank 0's generator; the other ranks keep drawing their own (drop path).
                Torch.Torch.ManualSeed((ulong)Seeds.ForRank(Seeds.Derive(_options.Seed, state.Step), _dist.Rank));
            }
        }
        // As DDP's constructor: every rank starts from rank 0's weights (EMA teachers included, being in the model).
        _dist.Broadcast(model.Parameters().Select(p => p.Value).Concat(model.NamedBuffers().Select(b => b.Value)));
        // After the broadcast and any checkpoint load: the overlap hooks sit on these parameters' gradient accumulators.
        using var gradients = _dist.SyncGradients(model.Parameters().Select(p => p.Value));

        var progress = new Progress(_out, totalSteps, state.Step);
        var watch = Stopwatch.StartNew();
        long clipsSeen = 0;
        var step = state.Step;
        var lastLoss = state.LastLoss;
        var lossSum = 0.0;
        var lossCount = 0;
        // Logged loss = mean over the steps since the last log line, so a curve is not one batch's noise.
        var intervalSum = 0.0;
        var intervalCount = 0;
        var interrupted = false;
        var metricSums = new SortedDictionary<string, (double Sum, int Count)>(StringComparer.Ordinal);
        var scalars = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var epoch = (int)state.Epoch; step < totalSteps && step < stopAtStep && !interrupted; epoch++)
        {
            var startBatch = epoch == state.Epoch ? (int)state.BatchInEpoch : 0;
            var batchInEpoch = startBatch;
            var epochLossSum = 0.0;
            var epochSteps = 0;
            foreach (var batch in _loader.Epoch(epoch, startBatch))
            {
                // Batches past the last whole accumulation group of the epoch are skipped, not carried over.
                if (batchInEpoch >= stepsPerEpoch * accum)
                {
                    break;
                }
                var micro = (batchInEpoch - startBatch) % accum;
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
                    var output = _objective.Loss(batch, new BatchPosition(step, epoch, batchInEpoch, micro));
                    var loss = output.Loss;
                    lossValue = loss.Item();
                    foreach (var (name, value) in output.Metrics ?? new Dictionary<string, Tensor>())
                    {
                        var (sum, count) = metricSums.GetValueOrDefault(name);
                        metricSums[name] = (sum + value.Item(), count + 1);
                    }
                    if (!double.IsFinite(lossValue))
                    {
                        ActivationCheckpoint.Discard();
                        throw new TrainingDivergedException(
                            $"loss is {lossValue} at step {step} (epoch {epoch}, batch {batchInEpoch}); stopping. {(_run is null ? string.Empty : Checkpoint.LastGood(_run))} Lower train.base_lr or set train.clip_grad.");
                    }
                    if (micro == accum - 1)
                    {
                        gradients.BeforeBackward();  // the step's last micro-batch: its backward starts the all-reduce
                    }
                    (accum == 1 ? loss : loss.Div(accum)).Backward();
                    ActivationCheckpoint.Backward();  // model.grad_checkpointing: the blocks' share of backward
                }
                batchInEpoch++;
                clipsSeen += ClipsIn(batch) * _dist.WorldSize;
                lossSum += lossValue;
                lossCount++;
                if (micro != accum - 1)
                {
                    continue;
                }
                gradients.Average();
                // Without clipping the norm is still measured (an infinite threshold scales nothing), so curves always have it.
                var gradNorm = GradClip.ClipGradNorm(model.Parameters(), train.ClipGrad > 0 ? train.ClipGrad : double.PositiveInfinity);
                var stepContext = new OptimizerStepContext(step, schedules.Plan, scalars);
                _objective.BeforeOptimizerStep(stepContext);
                optimizer.Step();
                optimizer.ZeroGrad();
                _objective.AfterOptimizerStep(stepContext);
                step++;
                // One all-reduce per step: the loss averaged over ranks, and whether any rank was asked to stop, so
                // all ranks stop at the same step even when the signal reached only one of them.
                var agreed = _dist.Average(lossSum / lossCount, _options.Stop?.Requested == true ? 1 : 0);
                lastLoss = agreed[0];
                lossSum = 0;
                lossCount = 0;
                intervalSum += lastLoss;
                intervalCount++;
                epochLossSum += lastLoss;
                epochSteps++;

                interrupted = agreed[1] > 0 && step < totalSteps;
                if (interrupted && _options.Stop?.Requested != true)
                {
                    _out.WriteLine($"rank {_dist.Rank}: stopping after step {step} with the other ranks (one of them was asked to stop)");
                }
                var done = step >= totalSteps || step >= stopAtStep || interrupted;
                var logStep = step % log.EverySteps == 0 || done;
                Dictionary<string, double>? logged = null;
                if (logStep)
                {
                    // Every rank computes the same metric names (sorted), so their means reduce in one call.
                    var means = _dist.Average([.. metricSums.Values.Select(v => v.Sum / v.Count)]);
                    logged = metricSums.Keys.Zip(means).ToDictionary(kv => kv.First, kv => kv.Second, StringComparer.Ordinal);
                    metricSums.Clear();
                }
                if (_run is not null && logged is not null)
                {
                    var seconds = watch.Elapsed.TotalSeconds;
                    var clipsPerSecond = clipsSeen / Math.Max(seconds, 1e-9);
                    // CUDA: the caching allocator's peak; CPU: the process's peak resident memory (VmHWM), not the
                    // current one, which glibc's arenas raise and lower by hundreds of MiB between log steps.
                    var memory = _device.IsCuda ? Torch.Torch.CudaMemory(_device.Index).PeakAllocated / 1048576.0 : PeakResidentMib();
                    var intervalLoss = intervalSum / intervalCount;
                    intervalSum = 0;
                    intervalCount = 0;
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
                    if (_objective.Check(logged) is { } warning)
                    {
                        _out.WriteLine($"step {step}: {warning}");
                    }
                }
                _objective.AfterStep(step, done);
                var epochDone = batchInEpoch >= stepsPerEpoch * accum;
                var position = epochDone
                    ? new TrainerState(step, epoch + 1, 0, optimizer.StepCount, lastLoss, state.ConfigJson)
                    : new TrainerState(step, epoch, batchInEpoch, optimizer.StepCount, lastLoss, state.ConfigJson);
                if (epochDone)
                {
                    _objective.EndOfEpoch(new EpochEnd(epoch, step, step >= totalSteps, epochLossSum / Math.Max(1, epochSteps), position));
                }
                // A kept step writes even off the checkpoint_every_steps grid: otherwise keep_every_steps 250 with checkpoints
                // every 200 keeps only step 1000.
                var kept = log.KeepEverySteps > 0 && step % log.KeepEverySteps == 0;
                if (_run is not null && (step % log.CheckpointEverySteps == 0 || kept || done || (epochDone && _options.CheckpointEachEpoch)))
                {
                    Checkpoint.SaveProgress(_run, model, optimizer, position, log.KeepEverySteps);
                    _options.OnCheckpoint?.Invoke(_run);
                    Profiling.ReleaseFreeHostMemory();
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
            var same = _dist.SameOnAllRanks(model.Parameters().Select(p => p.Value).Concat(model.NamedBuffers().Select(b => b.Value)));
            _out.WriteLine(same ? $"parameters and buffers identical on all {_dist.WorldSize} ranks" : $"warning: parameters differ between the {_dist.WorldSize} ranks");
            _out.WriteLine(gradients.Describe());
        }
        var elapsed = watch.Elapsed;
        return new Result(step, lastLoss, clipsSeen / Math.Max(elapsed.TotalSeconds, 1e-9), elapsed, interrupted);
    }

    /// <summary>lr, wd and the objective's scalars, laid over schedule_scale × the planned steps.</summary>
    private (IReadOnlyDictionary<string, ScalarSchedule> Scalars, SchedulePlan Plan) Schedules(OptimSection train, StepPlan plan, double lrScale, double peakLr, double minLr)
    {
        if (train.ScheduleScale < 1)
        {
            throw new ConfigException($"train.schedule_scale={train.ScheduleScale}: must be at least 1 (the schedules' horizon is this × the planned steps)");
        }
        var horizon = (long)(plan.TotalSteps * train.ScheduleScale);
        var startLr = train.StartLr * lrScale;
        var schedulePlan = new SchedulePlan(horizon, train.IterationsPerEpoch > 0 ? train.IterationsPerEpoch : plan.StepsPerEpoch, plan.WarmupSteps);
        var jepa = _objective.JepaSchedules;
        var lrDescription = $"warmup {startLr:G4} -> {peakLr:G4} over {plan.WarmupSteps} steps, cosine to {minLr:G4} at step {horizon}{(jepa ? " (jepa: iteration i runs at step i + 1)" : string.Empty)}";
        var scalars = new Dictionary<string, ScalarSchedule>(StringComparer.Ordinal)
        {
            ["lr"] = jepa
                ? ScalarSchedule.JepaWarmupCosine(lrDescription, startLr, peakLr, minLr, plan.WarmupSteps, horizon)
                : new(lrDescription, s => Schedule.WarmupCosine(s, peakLr, minLr, plan.WarmupSteps, horizon, startLr)),
            ["wd"] = train.WeightDecayEnd is not { } end ? ScalarSchedule.Constant(train.WeightDecay)
                : jepa ? ScalarSchedule.JepaCosine(train.WeightDecay, end, horizon)
                : new($"cosine {train.WeightDecay:G4} -> {end:G4} over {horizon} steps", s => Schedule.WarmupCosine(s, train.WeightDecay, end, 0, horizon)),
        };
        foreach (var (name, schedule) in _objective.Schedules(schedulePlan))
        {
            scalars.Add(name, schedule);
        }
        return (scalars, schedulePlan);
    }

    internal static double PeakResidentMib()
    {
        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64 / 1048576.0;
    }

    internal static long ClipsIn(ClipBatch batch) => batch.Shape.Length == 6 ? (long)batch.Shape[0] * batch.Shape[1] : batch.Shape[0];

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
