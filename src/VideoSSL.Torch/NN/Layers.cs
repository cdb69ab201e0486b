namespace VideoSSL.Torch.NN;

/// <summary>y = x·Wᵀ + b. Initialised like torch.nn.Linear (kaiming-uniform); models re-initialise as their papers do.</summary>
public sealed class Linear : Module
{
    public Linear(long inFeatures, long outFeatures, bool bias = true)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var bound = 1.0 / Math.Sqrt(inFeatures);
        using var noGrad = Torch.NoGrad();
        Weight = Param("weight", Torch.Empty([outFeatures, inFeatures]).Uniform_(-bound, bound));
        Bias = bias ? Param("bias", Torch.Empty([outFeatures]).Uniform_(-bound, bound)) : null;
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public Tensor Forward(Tensor x) => Torch.Linear(x, Weight, Bias?.Value);
}

public sealed class LayerNorm : Module
{
    private readonly long[] _shape;

    public LayerNorm(long dim, double eps = 1e-5, bool elementwiseAffine = true)
    {
        _shape = [dim];
        Eps = eps;
        if (elementwiseAffine)
        {
            Weight = Param("weight", Torch.Ones([dim]));
            Bias = Param("bias", Torch.Zeros([dim]));
        }
    }

    public double Eps { get; }
    public Parameter? Weight { get; }
    public Parameter? Bias { get; }

    public Tensor Forward(Tensor x) => Torch.LayerNorm(x, _shape, Weight?.Value, Bias?.Value, Eps);
}

/// <summary>BatchNorm over [N, C] (or [N, C, L]) with running statistics, as torch.nn.BatchNorm1d.</summary>
public sealed class BatchNorm1d : Module
{
    public BatchNorm1d(long features, double eps = 1e-5, double momentum = 0.1, bool affine = true)
    {
        Eps = eps;
        Momentum = momentum;
        if (affine)
        {
            Weight = Param("weight", Torch.Ones([features]));
            Bias = Param("bias", Torch.Zeros([features]));
        }
        RunningMean = Buffer("running_mean", Torch.Zeros([features]));
        RunningVar = Buffer("running_var", Torch.Ones([features]));
        Buffer("num_batches_tracked", Torch.Zeros([], ScalarType.Int64));
    }

    public double Eps { get; }
    public double Momentum { get; }
    public Parameter? Weight { get; }
    public Parameter? Bias { get; }

    private Tensor RunningMean { get; }

    private Tensor RunningVar { get; }

    public Tensor Forward(Tensor x)
    {
        var (mean, variance) = RunningStats();
        return Torch.BatchNorm(x, mean, variance, Weight?.Value, Bias?.Value, Training, Momentum, Eps);
    }

    // Buffers may have been replaced by To(device): look them up by name rather than caching the handles.
    private (Tensor Mean, Tensor Var) RunningStats()
    {
        Tensor? mean = null, variance = null;
        foreach (var (name, b) in NamedBuffers())
        {
            if (name == "running_mean")
            {
                mean = b;
            }
            else if (name == "running_var")
            {
                variance = b;
            }
        }
        return (mean ?? RunningMean, variance ?? RunningVar);
    }
}

/// <summary>3-D convolution; with kernel = stride it is the tubelet patch embedding of video ViTs.</summary>
public sealed class Conv3d : Module
{
    private readonly long[] _stride;
    private readonly long[] _padding;

    public Conv3d(long inChannels, long outChannels, long[] kernelSize, long[]? stride = null, long[]? padding = null, bool bias = true)
    {
        _stride = stride ?? [1, 1, 1];
        _padding = padding ?? [0, 0, 0];
        var fanIn = inChannels * kernelSize[0] * kernelSize[1] * kernelSize[2];
        var bound = 1.0 / Math.Sqrt(fanIn);
        using var noGrad = Torch.NoGrad();
        Weight = Param("weight", Torch.Empty([outChannels, inChannels, kernelSize[0], kernelSize[1], kernelSize[2]]).Uniform_(-bound, bound));
        Bias = bias ? Param("bias", Torch.Empty([outChannels]).Uniform_(-bound, bound)) : null;
    }

    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public Tensor Forward(Tensor x) => Torch.Conv3d(x, Weight, Bias?.Value, _stride, _padding);
}

public sealed class Dropout : Module
{
    public Dropout(double p)
    {
        P = p;
    }

    public double P { get; }

    public Tensor Forward(Tensor x) => Torch.Dropout(x, P, Training);
}

/// <summary>Stochastic depth per sample (timm's DropPath): drops the whole residual branch of some samples.</summary>
public sealed class DropPath : Module
{
    public DropPath(double p)
    {
        P = p;
    }

    public double P { get; }

    public Tensor Forward(Tensor x)
    {
        if (P == 0 || !Training)
        {
            return x.Share();
        }
        using var scope = Torch.NewScope();
        var shape = new long[x.Dim];
        shape[0] = x.Size(0);
        for (var k = 1; k < shape.Length; k++)
        {
            shape[k] = 1;
        }
        var keep = 1 - P;
        var mask = Torch.Bernoulli(Torch.Empty(shape, x.Dtype, x.Device), keep).Div(keep);
        return scope.MoveToOuter(x.Mul(mask));
    }
}

public sealed class Gelu : Module
{
    public Tensor Forward(Tensor x) => Torch.Gelu(x);
}

/// <summary>An indexed list of child modules named 0, 1, 2, ... (torch.nn.ModuleList).</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T>
    where T : Module
{
    private readonly List<T> _items = [];

    public ModuleList(IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            Child(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), item);
            _items.Add(item);
        }
    }

    public int Count => _items.Count;

    public T this[int index] => _items[index];

    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>2-D convolution; with kernel = stride it is the per-frame patch embedding of image and TimeSformer ViTs.</summary>
public sealed class Conv2d : Module
{
    private readonly long[] _stride;

    public Conv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, bool bias = true)
    {
        _stride = [stride, stride];
        var bound = 1.0 / Math.Sqrt(inChannels * kernelSize * kernelSize);
        using var noGrad = Torch.NoGrad();
        Weight = Param("weight", Torch.Empty([outChannels, inChannels, kernelSize, kernelSize]).Uniform_(-bound, bound));
        Bias = bias ? Param("bias", Torch.Empty([outChannels]).Uniform_(-bound, bound)) : null;
    }

    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public Tensor Forward(Tensor x) => Torch.Conv2d(x, Weight, Bias?.Value, _stride);
}
