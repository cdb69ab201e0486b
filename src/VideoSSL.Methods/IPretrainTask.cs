using VideoSSL.Data.Pipelines;
using VideoSSL.Torch;
using VideoSSL.Torch.Distributed;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Methods;

/// <summary>
/// What the pretraining loop needs from a method: the model it trains and saves, its parameter groups, a loss
/// with named metrics for a batch of views, the scalar schedules it owns (e.g. EMA momentum) and hooks around
/// the optimizer step. Masks and other randomness are derived from (seed, step, micro-batch) so a resumed run
/// draws exactly what an uninterrupted one would.
/// </summary>
public interface IPretrainTask : IDisposable
{
    Module Model { get; }

    IReadOnlyList<ParamGroup> ParamGroups(double weightDecay);

    PretrainOutput Loss(PretrainBatch batch);

    /// <summary>
    /// The views each batch must hold, or null for the loader's single clip (<see cref="PretrainBatch.ClipsView"/>).
    /// When set, the pretraining pipeline cuts these views from one decoded window per video and the batch carries
    /// one [B, 3, T, S, S] tensor per view name.
    /// </summary>
    MultiViewSpec? Views => null;

    /// <summary>
    /// True when the encoder's token counts change from step to step (V-JEPA: context and target sizes follow the
    /// random masks), so kernels that plan per shape (cuDNN attention) pay their planning on most steps.
    /// </summary>
    bool ShapesVaryPerStep => false;

    /// <summary>True when the loss reads the batch's labels (<see cref="PretrainBatch.Labels"/>): supervised pretraining only.</summary>
    bool NeedsLabels => false;

    /// <summary>Named per-step scalars the method owns besides lr and weight decay (logged as <c>sched/NAME</c>).</summary>
    IReadOnlyDictionary<string, ScalarSchedule> Schedules(SchedulePlan plan) => new Dictionary<string, ScalarSchedule>();

    /// <summary>
    /// True for jepa's schedulers, stepped before each iteration's forward, so iteration i runs with the lr and weight
    /// decay after i + 1 steps (src/utils/schedulers.py, app/vjepa/train.py); false for MAE/VideoMAE/DINO, which read
    /// per-iteration arrays at i (utils.cosine_scheduler, lr_schedule_values[it]).
    /// </summary>
    bool JepaSchedules => false;

    /// <summary>
    /// Data parallelism, called once before training: which rank this process is among how many (<paramref name="rowsPerVideo"/>:
    /// repeated augmentation's rows per video). Randomness drawn per rank and statistics shared across ranks go here.
    /// </summary>
    void JoinRanks(DistributedContext dist, int rowsPerVideo)
    {
    }

    /// <summary>Called after backward, before the optimizer step: gradient edits (clipping, freezing) go here.</summary>
    void BeforeOptimizerStep(OptimizerStepContext context)
    {
    }

    /// <summary>Called after each optimizer step (EMA teachers update here).</summary>
    void AfterOptimizerStep(OptimizerStepContext context)
    {
    }

    /// <summary>Original / masked / reconstructed frames of the first few clips, or null if the method does not reconstruct pixels.</summary>
    ReconstructionSample? Reconstruct(PretrainBatch batch) => null;

    /// <summary>A warning line to print for the metrics just logged (e.g. a collapse alarm), or null.</summary>
    string? Check(IReadOnlyDictionary<string, double> loggedMetrics) => null;

    /// <summary>The first clip's masks (context vs prediction targets) for the run's plots, or null.</summary>
    MaskPicture? Masks(PretrainBatch batch) => null;
}

/// <summary>
/// One micro-batch: named views (any shapes; <c>clips</c> is the loader's [B, 3, T, H, W]), the optimizer step it
/// belongs to and its index inside gradient accumulation.
/// </summary>
public sealed record PretrainBatch(IReadOnlyDictionary<string, Tensor> Views, long Step, int MicroBatch = 0)
{
    public const string ClipsView = "clips";

    /// <summary>Per row of the views, the sample's label; null unless the task asks for labels (<see cref="IPretrainTask.NeedsLabels"/>).</summary>
    public int[]? Labels { get; init; }

    public Tensor Clips => Views.TryGetValue(ClipsView, out var clips) ? clips : throw new KeyNotFoundException($"batch has no '{ClipsView}' view ({string.Join(", ", Views.Keys)})");

    public static PretrainBatch OfClips(Tensor clips, long step, int microBatch = 0) => new(new Dictionary<string, Tensor> { [ClipsView] = clips }, step, microBatch);
}

/// <summary>The loss to back-propagate and named scalar metrics (0-d tensors, no grad), averaged and logged by the loop.</summary>
public sealed record PretrainOutput(Tensor Loss, IReadOnlyDictionary<string, Tensor>? Metrics = null);

/// <summary>The step counts a schedule is laid over.</summary>
public sealed record SchedulePlan(long TotalSteps, long StepsPerEpoch, long WarmupSteps);

/// <summary>Where the run is at an optimizer step, with the values of every schedule at that step.</summary>
public sealed record OptimizerStepContext(long Step, SchedulePlan Plan, IReadOnlyDictionary<string, double> Scalars);

/// <summary>
/// Views of <see cref="Clips"/> clips as [Clips, T, H, W, 3] floats in 0..1, for reconstruction grids: the original,
/// the encoder's input (masked patches grey), the reconstruction (visible patches pasted back).
/// </summary>
public sealed record ReconstructionSample(float[] Original, float[] Masked, float[] Reconstruction, int Frames, int Height, int Width)
{
    /// <summary>How many clips a grid shows: the first ones of a batch the loop keeps fixed for the whole run.</summary>
    public const int DefaultClips = 4;

    public int Clips { get; init; } = 1;

    /// <summary>The prediction alone [Clips, T, H, W, 3]: visible patches are not pasted back (NaN), so only the model's output shows.</summary>
    public float[]? Prediction { get; init; }

    /// <summary>True where a pixel was hidden from the encoder, [Clips, T, H, W].</summary>
    public bool[]? MaskedPixels { get; init; }

    /// <summary>How to read the prediction, e.g. that normalised targets were mapped back with the true patch statistics.</summary>
    public string? Note { get; init; }
}

/// <summary>
/// Token roles of one clip for a mask picture, one array [T'·H'·W'] per mask generator: 1 = context (seen by
/// the encoder), 2 = prediction target, 0 = neither (cut by truncation to the batch minimum).
/// </summary>
public sealed record MaskPicture(int Frames, int Height, int Width, IReadOnlyList<byte[]> Roles);
