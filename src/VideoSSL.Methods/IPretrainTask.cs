using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Methods;

/// <summary>
/// What the pretraining loop needs from a method: the model it trains and saves, its parameter groups,
/// and a loss for a batch of normalised clips [B, 3, T, H, W]. Masks and other randomness are derived
/// from (seed, step, micro-batch) so a resumed run draws exactly what an uninterrupted one would, and the
/// micro-batches accumulated into one step each get their own (the published recipes accumulate 32 to 64).
/// </summary>
public interface IPretrainTask : IDisposable
{
    Module Model { get; }

    IReadOnlyList<ParamGroup> ParamGroups(double weightDecay);

    /// <param name="micro">The micro-batch within the optimizer step (0 without accumulation).</param>
    Tensor Loss(Tensor clips, long step, int micro);

    /// <summary>Called after each optimizer step (EMA teachers update here).</summary>
    void AfterOptimizerStep(long step, long totalSteps)
    {
    }

    /// <summary>Original / masked / reconstructed frames of the first clip, or null if the method does not reconstruct pixels.</summary>
    ReconstructionSample? Reconstruct(Tensor clips, long step) => null;
}

/// <summary>Three views of one clip as [T, H, W, 3] floats in 0..1, for reconstruction grids.</summary>
public sealed record ReconstructionSample(float[] Original, float[] Masked, float[] Reconstruction, int Frames, int Height, int Width);
