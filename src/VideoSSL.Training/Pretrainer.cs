using VideoSSL.Data.Loading;
using VideoSSL.Methods;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.NN;
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
/// Pretraining for every method (MAE's engine_for_pretraining, jepa's train.py) on the shared <see cref="TrainingLoop"/>:
/// the method's task gives the loss of a batch, its schedules (EMA momentum) and hooks around the optimizer step;
/// this class adds the reconstruction grids and mask pictures of fixed clips.
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
        var options = new LoopOptions(_config.Train, _config.Log, ConfigLoader.ToJson(_config), _config.Seed)
        {
            Stop = _hooks.Stop,
            OnCheckpoint = _hooks.OnCheckpoint,
        };
        var loop = new TrainingLoop(options, new Objective(this), _loader, _run, _device, _out, _dist);
        var result = loop.Run(resumeFrom, stopAtStep);
        return new Result(result.Steps, result.FinalLoss, result.ClipsPerSecond, result.Elapsed) { Interrupted = result.Interrupted };
    }

    /// <summary>The method's task as the loop's objective, with the pictures of fixed clips at reconstruction steps.</summary>
    private sealed class Objective(Pretrainer owner) : ITrainingObjective
    {
        private readonly IPretrainTask _task = owner._task;
        private readonly Device _device = owner._device;
        private readonly bool _autocast = owner._device.IsCuda ? owner._config.Train.Bf16 : owner._config.Train.CpuBf16;
        private readonly bool _pictures = owner._run is not null && (owner._hooks.OnReconstruction is not null || owner._hooks.OnMasks is not null);

        // Reconstruction grids and mask pictures show the same clips at every step (the first of the first batch this process sees).
        private (float[] Data, long[] Shape)? _shown;

        public Module Model => _task.Model;

        public bool JepaSchedules => _task.JepaSchedules;

        public IReadOnlyList<ParamGroup> ParamGroups(double weightDecay) => _task.ParamGroups(weightDecay);

        public IReadOnlyDictionary<string, ScalarSchedule> Schedules(SchedulePlan plan) => _task.Schedules(plan);

        public PretrainOutput Loss(ClipBatch batch, BatchPosition at)
        {
            var (step, micro) = (at.Step, at.MicroBatch);
            if (_pictures)
            {
                _shown ??= FirstClips(batch, ReconstructionSample.DefaultClips);
            }
            var views = PretrainBatches.Views(batch, _task.Views, _device, step, micro, _task.NeedsLabels);
            using (_autocast ? Torch.Torch.Autocast(_device) : null)
            {
                return _task.Loss(views);
            }
        }

        public void BeforeOptimizerStep(OptimizerStepContext context) => _task.BeforeOptimizerStep(context);

        public void AfterOptimizerStep(OptimizerStepContext context) => _task.AfterOptimizerStep(context);

        public string? Check(IReadOnlyDictionary<string, double> loggedMetrics) => _task.Check(loggedMetrics);

        public void AfterStep(long step, bool done)
        {
            var hooks = owner._hooks;
            if (!_pictures || _shown is null || (step % owner._config.Log.ReconstructionEverySteps != 0 && !done))
            {
                return;
            }
            using var scope = Torch.Torch.NewScope();
            using var noGrad = Torch.Torch.NoGrad();
            var views = PretrainBatches.Views(_shown.Value.Data, _shown.Value.Shape, _task.Views, _device, step);
            if (hooks.OnReconstruction is not null && _task.Reconstruct(views) is { } sample)
            {
                hooks.OnReconstruction(step, sample);
            }
            if (hooks.OnMasks is not null && _task.Masks(views) is { } picture)
            {
                hooks.OnMasks(step, picture);
            }
        }
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
}
