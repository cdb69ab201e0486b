using VideoSSL.Torch;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>A cutmix box in pixels: rows [Top, Bottom), columns [Left, Right).</summary>
public readonly record struct CutmixBox(int Top, int Bottom, int Left, int Right)
{
    public int Area => (Bottom - Top) * (Right - Left);
}

/// <summary>The mixed clips, soft targets [B, classes], and the parameters drawn (λ after the cutmix area correction).</summary>
public sealed record MixupResult(Tensor Clips, Tensor Targets, double Lambda, bool Cutmix, CutmixBox? Box);

/// <summary>
/// timm's Mixup in 'batch' mode (as VideoMAE fine-tuning uses it): one λ per batch; sample i is mixed with
/// sample B−1−i (<c>x.flip(0)</c>). With probability <c>switchProb</c> cutmix replaces mixup: a box from
/// <see cref="RandBox"/> is pasted from the flipped batch and λ is corrected to the kept area. Targets are
/// λ·onehot(y) + (1−λ)·onehot(y.flip(0)), each one-hot label-smoothed (off = s/C, on = 1 − s + s/C).
/// All randomness comes from the <see cref="Random"/> passed in.
/// </summary>
public sealed class Mixup
{
    public Mixup(int numClasses, double mixupAlpha = 0.8, double cutmixAlpha = 1.0, double prob = 1.0, double switchProb = 0.5,
        double labelSmoothing = 0.1, bool correctLambda = true)
    {
        if (numClasses < 1)
        {
            throw new ArgumentException($"numClasses must be positive (got {numClasses})");
        }
        if (mixupAlpha <= 0 && cutmixAlpha <= 0)
        {
            throw new ArgumentException("one of mixupAlpha and cutmixAlpha must be > 0");
        }
        NumClasses = numClasses;
        MixupAlpha = mixupAlpha;
        CutmixAlpha = cutmixAlpha;
        Prob = prob;
        SwitchProb = switchProb;
        LabelSmoothing = labelSmoothing;
        CorrectLambda = correctLambda;
    }

    public int NumClasses { get; }
    public double MixupAlpha { get; }
    public double CutmixAlpha { get; }
    public double Prob { get; }
    public double SwitchProb { get; }
    public double LabelSmoothing { get; }
    public bool CorrectLambda { get; }

    /// <summary>
    /// Mixes clips [B, C, T, H, W] (B even) with integer labels [B]. Returns new tensors; the inputs are untouched.
    /// The cutmix box spans H and W and is the same for every frame.
    /// </summary>
    // VideoMAE passes [B, C, T, H, W] to timm's _mix_batch, whose x[:, :, yl:yh, xl:xh] then slices T and H (not
    // H and W) with a box drawn from (H, W). We cut the box over H and W as cutmix intends; note the difference
    // when comparing against VideoMAE's numbers.
    public MixupResult Apply(Tensor clips, Tensor labels, Random rng)
    {
        if (clips.Dim != 5)
        {
            throw new ArgumentException($"expected clips [B, C, T, H, W], got [{string.Join(", ", clips.Shape)}]");
        }
        var batch = clips.Size(0);
        if (batch % 2 != 0)
        {
            throw new ArgumentException($"mixup needs an even batch size (got {batch}), as timm asserts");
        }
        if (labels.Dim != 1 || labels.Size(0) != batch)
        {
            throw new ArgumentException($"expected labels [{batch}], got [{string.Join(", ", labels.Shape)}]");
        }
        var (lambda, useCutmix) = DrawParameters(rng);
        using var scope = Torch.NewScope();
        Tensor mixed;
        CutmixBox? box = null;
        if (lambda == 1.0)
        {
            mixed = clips.Clone();
        }
        else if (useCutmix)
        {
            var height = (int)clips.Size(3);
            var width = (int)clips.Size(4);
            var b = RandBox(height, width, lambda, rng);
            if (CorrectLambda)
            {
                lambda = 1.0 - (double)b.Area / (height * width);
            }
            box = b;
            mixed = clips.Clone();
            if (b.Area > 0)
            {
                var source = clips.Flip(0).Slice(3, b.Top, b.Bottom).Slice(4, b.Left, b.Right);
                mixed.Slice(3, b.Top, b.Bottom).Slice(4, b.Left, b.Right).Copy_(source);
            }
        }
        else
        {
            mixed = clips.Mul(lambda).Add(clips.Flip(0), 1.0 - lambda);
        }
        var targets = MixupTarget(labels, NumClasses, lambda, LabelSmoothing, clips.Device);
        return new MixupResult(scope.MoveToOuter(mixed), scope.MoveToOuter(targets), lambda, box is not null, box);
    }

    /// <summary>timm's _params_per_batch: (λ, use cutmix). λ = 1 means no mixing this batch.</summary>
    public (double Lambda, bool Cutmix) DrawParameters(Random rng)
    {
        if (rng.NextDouble() >= Prob)
        {
            return (1.0, false);
        }
        if (MixupAlpha > 0 && CutmixAlpha > 0)
        {
            var useCutmix = rng.NextDouble() < SwitchProb;
            var alpha = useCutmix ? CutmixAlpha : MixupAlpha;
            return (Sampling.Beta(rng, alpha, alpha), useCutmix);
        }
        return MixupAlpha > 0 ? (Sampling.Beta(rng, MixupAlpha, MixupAlpha), false) : (Sampling.Beta(rng, CutmixAlpha, CutmixAlpha), true);
    }

    /// <summary>
    /// timm's rand_bbox: side ratio sqrt(1 − λ), cut = int(side · ratio), centre uniform over the frame,
    /// edges at centre ∓ cut/2 (integer halves) clipped to the frame.
    /// </summary>
    public static CutmixBox RandBox(int height, int width, double lambda, Random rng)
    {
        var ratio = Math.Sqrt(1 - lambda);
        var cutH = (int)(height * ratio);
        var cutW = (int)(width * ratio);
        var cy = rng.Next(0, height);
        var cx = rng.Next(0, width);
        return new CutmixBox(
            Math.Clamp(cy - cutH / 2, 0, height),
            Math.Clamp(cy + cutH / 2, 0, height),
            Math.Clamp(cx - cutW / 2, 0, width),
            Math.Clamp(cx + cutW / 2, 0, width));
    }

    /// <summary>λ·onehot(y) + (1−λ)·onehot(y.flip(0)), with label smoothing (timm's mixup_target): [B, classes] float32.</summary>
    public static Tensor MixupTarget(Tensor labels, int numClasses, double lambda, double smoothing, Device? device = null)
    {
        var off = smoothing / numClasses;
        var on = 1.0 - smoothing + off;
        using var scope = Torch.NewScope();
        var target = device ?? labels.Device;
        var index = labels.Long().View(-1, 1).To(target); // labels often stay on the CPU while clips go to the GPU
        var batch = index.Size(0);
        var y1 = Torch.Full([batch, numClasses], off, ScalarType.Float32, target).Scatter(1, index, on);
        var y2 = y1.Flip(0);
        return scope.MoveToOuter(y1.Mul(lambda).Add(y2, 1.0 - lambda));
    }
}

/// <summary>Draws from distributions System.Random lacks, so augmentations stay reproducible from one seed.</summary>
internal static class Sampling
{
    /// <summary>Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).</summary>
    public static double Beta(Random rng, double a, double b)
    {
        var x = Gamma(rng, a);
        var y = Gamma(rng, b);
        return x / (x + y);
    }

    /// <summary>Gamma(shape, 1) by Marsaglia–Tsang; shape &lt; 1 via Gamma(shape + 1)·U^(1/shape).</summary>
    public static double Gamma(Random rng, double shape)
    {
        if (shape < 1)
        {
            var u = 1.0 - rng.NextDouble(); // (0, 1]: keeps the power finite and positive
            return Gamma(rng, shape + 1) * Math.Pow(u, 1.0 / shape);
        }
        var d = shape - 1.0 / 3;
        var c = 1.0 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(rng);
                v = 1 + c * x;
            }
            while (v <= 0);
            v = v * v * v;
            var u = rng.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v)))
            {
                return d * v;
            }
        }
    }

    /// <summary>Standard normal by Box–Muller.</summary>
    public static double Normal(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
