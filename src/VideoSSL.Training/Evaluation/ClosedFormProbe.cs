using VideoSSL.Torch;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>
/// A ridge-regression classifier on frozen features: one-hot targets Y, centred features X (the intercept is not
/// penalised), W = (XᵀX/N + λI)⁻¹ XᵀY/N solved in float64. No training loop, so it gives a quick, deterministic
/// accuracy number for comparing checkpoints. λ is relative to the per-sample scale (XᵀX/N), so it does not depend on N.
/// </summary>
public sealed class ClosedFormProbe : IDisposable
{
    private ClosedFormProbe(Tensor weight, Tensor bias, int numClasses)
    {
        Weight = weight;
        Bias = bias;
        NumClasses = numClasses;
    }

    /// <summary>[D, classes], float64.</summary>
    public Tensor Weight { get; }

    /// <summary>[classes], float64.</summary>
    public Tensor Bias { get; }

    public int NumClasses { get; }

    /// <summary>Fits on features [N, D] and labels in [0, numClasses).</summary>
    public static ClosedFormProbe Fit(Tensor features, IReadOnlyList<long> labels, int numClasses, double lambda = 1e-3)
    {
        if (features.Dim != 2 || features.Size(0) != labels.Count)
        {
            throw new ArgumentException($"expected features [N, D] with N = {labels.Count} labels, got [{string.Join(", ", features.Shape)}]");
        }
        if (labels.Any(l => l < 0 || l >= numClasses))
        {
            throw new ArgumentException($"labels must lie in [0, {numClasses})");
        }
        var n = features.Size(0);
        var d = features.Size(1);
        using var noGrad = Torch.NoGrad();
        using var scope = Torch.NewScope();
        var x = features.Detach().To(ScalarType.Float64);
        var y = Torch.Zeros([n, numClasses], ScalarType.Float64, x.Device)
            .Scatter(1, Tensor.From(labels.ToArray(), n, 1).To(x.Device), 1.0);
        var xMean = x.Mean(0, keepDim: true); // [1, D]
        var yMean = y.Mean(0, keepDim: true); // [1, C]
        var xc = x.Sub(xMean);
        var yc = y.Sub(yMean);
        var gram = xc.Transpose(0, 1).MatMul(xc).Div(n).Add(Identity(d, x.Device).Mul(lambda)); // [D, D]
        var rhs = xc.Transpose(0, 1).MatMul(yc).Div(n); // [D, C]
        var weight = gram.LinalgSolve(rhs);
        var bias = yMean.Sub(xMean.MatMul(weight)).Squeeze(0);
        return new ClosedFormProbe(weight.DetachFromScope(), bias.DetachFromScope(), numClasses);
    }

    /// <summary>Class scores [N, classes] (float32) for features [N, D].</summary>
    public Tensor Predict(Tensor features)
    {
        using var noGrad = Torch.NoGrad();
        using var scope = Torch.NewScope();
        var scores = features.Detach().To(ScalarType.Float64).MatMul(Weight).Add(Bias).Float();
        return scope.MoveToOuter(scores);
    }

    /// <summary>Top-1 accuracy in [0, 1].</summary>
    public double Accuracy(Tensor features, IReadOnlyList<long> labels)
    {
        using var scope = Torch.NewScope();
        var predicted = Predict(features).ArgMax(1).Cpu().ToArray<long>();
        if (predicted.Length != labels.Count)
        {
            throw new ArgumentException($"{predicted.Length} feature rows but {labels.Count} labels");
        }
        var hits = 0;
        for (var i = 0; i < predicted.Length; i++)
        {
            hits += predicted[i] == labels[i] ? 1 : 0;
        }
        return predicted.Length == 0 ? 0 : (double)hits / predicted.Length;
    }

    public void Dispose()
    {
        Weight.Dispose();
        Bias.Dispose();
    }

    private static Tensor Identity(long size, Device device)
    {
        var data = new double[size * size];
        for (var i = 0; i < size; i++)
        {
            data[i * size + i] = 1;
        }
        return Tensor.From(data, size, size).To(device);
    }
}
