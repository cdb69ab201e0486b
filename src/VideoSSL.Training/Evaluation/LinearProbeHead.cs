using VideoSSL.Torch;
using VideoSSL.Torch.NN;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>
/// MAE's linear probe (main_linprobe.py): <c>head = Sequential(BatchNorm1d(D, affine=False, eps=1e-6), Linear(D, classes))</c>,
/// so the state-dict names are <c>head.0.running_mean</c>, <c>head.0.running_var</c>, <c>head.0.num_batches_tracked</c>,
/// <c>head.1.weight</c>, <c>head.1.bias</c>. The BatchNorm only whitens the frozen features; it has no parameters.
/// </summary>
public sealed class LinearProbeHead : Module
{
    public LinearProbeHead(long inFeatures, long numClasses)
    {
        Head = Child("head", new BatchNormLinear(inFeatures, numClasses));
        // MAE follows MoCo v3: trunc_normal(std 0.01) on the fc weight, zero bias.
        Init.TruncNormal_(Head.Linear.Weight, 0.01);
        Init.Zeros_(Head.Linear.Bias!);
    }

    public BatchNormLinear Head { get; }

    /// <summary>Pooled features [B, D] → logits [B, classes]. BatchNorm uses batch statistics in training mode.</summary>
    public Tensor Forward(Tensor features) => Head.Forward(features);

    /// <summary>The Sequential(BatchNorm1d, Linear) with children named 0 and 1.</summary>
    public sealed class BatchNormLinear : Module
    {
        public BatchNormLinear(long inFeatures, long numClasses)
        {
            Norm = Child("0", new BatchNorm1d(inFeatures, eps: 1e-6, affine: false));
            Linear = Child("1", new Linear(inFeatures, numClasses));
        }

        public BatchNorm1d Norm { get; }

        public Linear Linear { get; }

        public Tensor Forward(Tensor x)
        {
            using var scope = Torch.NewScope();
            return scope.MoveToOuter(Linear.Forward(Norm.Forward(x)));
        }
    }
}

/// <summary>How several blocks' token features become one vector per clip for a linear probe.</summary>
public enum BlockPooling
{
    /// <summary>Mean over blocks of each block's token mean: [B, D].</summary>
    Average,

    /// <summary>Each block's token mean, concatenated in the order given: [B, k·D].</summary>
    Concatenate,
}

/// <summary>Token features [B, N, D] → clip features for linear probes.</summary>
public static class TokenPooling
{
    /// <summary>Mean over the N tokens: [B, N, D] → [B, D].</summary>
    public static Tensor MeanTokens(Tensor tokens)
    {
        if (tokens.Dim != 3)
        {
            throw new ArgumentException($"expected token features [B, N, D], got [{string.Join(", ", tokens.Shape)}]");
        }
        return tokens.Mean(1);
    }

    /// <summary>
    /// Pools the last blocks' features (pass the k blocks to use, each [B, N, D]): each is token-averaged, then the
    /// k results are averaged ([B, D]) or concatenated ([B, k·D]).
    /// </summary>
    public static Tensor LastBlocks(IReadOnlyList<Tensor> blockTokens, BlockPooling pooling)
    {
        if (blockTokens.Count == 0)
        {
            throw new ArgumentException("no block features given");
        }
        var shape = blockTokens[0].Shape;
        foreach (var t in blockTokens)
        {
            if (!t.Shape.SequenceEqual(shape))
            {
                throw new ArgumentException($"block features differ in shape: [{string.Join(", ", shape)}] vs [{string.Join(", ", t.Shape)}]");
            }
        }
        using var scope = Torch.NewScope();
        var pooled = blockTokens.Select(MeanTokens).ToList();
        var result = pooling == BlockPooling.Average ? Torch.Stack(pooled).Mean(0) : Torch.Cat(pooled, 1);
        return scope.MoveToOuter(result);
    }
}
