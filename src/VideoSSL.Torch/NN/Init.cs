using VideoSSL.Torch.Native;
using static VideoSSL.Torch.Native.OpArg;

namespace VideoSSL.Torch.NN;

/// <summary>In-place initialisers matching torch.nn.init / timm, run without autograd.</summary>
public static class Init
{
    private static readonly Op s_erfinv = new("aten::erfinv_");

    /// <summary>Xavier/Glorot uniform over a 2-D weight [out, in] (fans of higher-rank weights use the receptive field).</summary>
    public static Tensor XavierUniform_(Tensor weight, double gain = 1)
    {
        var shape = weight.Shape;
        var receptive = shape.Skip(2).Aggregate(1L, (a, b) => a * b);
        var fanIn = shape[1] * receptive;
        var fanOut = shape[0] * receptive;
        var bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        using var noGrad = Torch.NoGrad();
        return weight.Uniform_(-bound, bound);
    }

    /// <summary>
    /// Normal(mean, std) truncated to [a, b] in ABSOLUTE units, as timm's trunc_normal_ (a = −2, b = 2 are
    /// values, not standard deviations: with std 0.02 the bounds never bite). Inverse-CDF sampling as PyTorch.
    /// </summary>
    public static Tensor TruncNormal_(Tensor tensor, double std = 1, double mean = 0, double a = -2, double b = 2)
    {
        static double NormCdf(double x) => (1 + Erf(x / Math.Sqrt(2))) / 2;
        var lower = NormCdf((a - mean) / std);
        var upper = NormCdf((b - mean) / std);
        using var noGrad = Torch.NoGrad();
        tensor.Uniform_(2 * lower - 1, 2 * upper - 1);
        s_erfinv.CallVoid(T(tensor));
        tensor.Mul_(std * Math.Sqrt(2)).Add_(mean);
        return tensor.Clamp_(a, b);
    }

    public static Tensor Constant_(Tensor tensor, double value)
    {
        using var noGrad = Torch.NoGrad();
        return tensor.Fill_(value);
    }

    public static Tensor Zeros_(Tensor tensor) => Constant_(tensor, 0);

    // Numerical Recipes' erfc approximation (fractional error < 1.2e-7): ample for the truncation bounds,
    // and .NET has no Math.Erf.
    private static double Erf(double x)
    {
        var t = 1.0 / (1.0 + 0.5 * Math.Abs(x));
        var y = 1 - t * Math.Exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? y : -y;
    }
}
