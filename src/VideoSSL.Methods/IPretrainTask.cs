using VideoSSL.Torch;
using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Methods;

/// <summary>
/// What the pretraining loop needs from a method: the model it trains and saves, its parameter groups,
/// and a loss for a batch of normalised clips [B, 3, T, H, W]. Masks and other randomness are derived
/// from (seed, step) so a resumed run draws exactly what an uninterrupted one would.
/// </summary>
public interface IPretrainTask : IDisposable
{
    Module Model { get; }

    IReadOnlyList<ParamGroup> ParamGroups(double weightDecay);

    Tensor Loss(Tensor clips, long step);

    /// <summary>Called after each optimizer step (EMA teachers update here).</summary>
    void AfterOptimizerStep(long step, long totalSteps)
    {
    }

    /// <summary>Original / masked / reconstructed frames of the first few clips, or null if the method does not reconstruct pixels.</summary>
    ReconstructionSample? Reconstruct(Tensor clips, long step) => null;
}

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
