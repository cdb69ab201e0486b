using VideoSSL.Torch.Native;
using static VideoSSL.Torch.Native.OpArg;

namespace VideoSSL.Torch;

// Instance operations, each one dispatcher call. Scalars follow Python's promotion rules: a long keeps an
// integer tensor integral, a double promotes it to floating point.
public sealed partial class Tensor
{
    private static class A
    {
        public static readonly Op AddScalar = new("aten::add", "Scalar");
        public static readonly Op Add_ = new("aten::add_", "Tensor");
        public static readonly Op AddScalar_ = new("aten::add_", "Scalar");
        public static readonly Op Sub = new("aten::sub", "Tensor");
        public static readonly Op SubScalar = new("aten::sub", "Scalar");
        public static readonly Op Sub_ = new("aten::sub_", "Tensor");
        public static readonly Op RSub = new("aten::rsub", "Scalar");
        public static readonly Op Mul = new("aten::mul", "Tensor");
        public static readonly Op MulScalar = new("aten::mul", "Scalar");
        public static readonly Op Mul_ = new("aten::mul_", "Tensor");
        public static readonly Op MulScalar_ = new("aten::mul_", "Scalar");
        public static readonly Op Div = new("aten::div", "Tensor");
        public static readonly Op DivScalar = new("aten::div", "Scalar");
        public static readonly Op DivScalar_ = new("aten::div_", "Scalar");
        public static readonly Op DivScalarMode = new("aten::div", "Scalar_mode");
        public static readonly Op Neg = new("aten::neg");
        public static readonly Op Pow = new("aten::pow", "Tensor_Scalar");
        public static readonly Op PowTensor = new("aten::pow", "Tensor_Tensor");
        public static readonly Op Sqrt = new("aten::sqrt");
        public static readonly Op Rsqrt = new("aten::rsqrt");
        public static readonly Op Exp = new("aten::exp");
        public static readonly Op Log = new("aten::log");
        public static readonly Op Abs = new("aten::abs");
        public static readonly Op Sin = new("aten::sin");
        public static readonly Op Cos = new("aten::cos");
        public static readonly Op Tanh = new("aten::tanh");
        public static readonly Op Sigmoid = new("aten::sigmoid");
        public static readonly Op Relu = new("aten::relu");
        public static readonly Op Erf = new("aten::erf");
        public static readonly Op Reciprocal = new("aten::reciprocal");
        public static readonly Op Clamp = new("aten::clamp");
        public static readonly Op ClampMin = new("aten::clamp_min");
        public static readonly Op Clamp_ = new("aten::clamp_");
        public static readonly Op Maximum = new("aten::maximum");
        public static readonly Op Minimum = new("aten::minimum");
        public static readonly Op Lerp_ = new("aten::lerp_", "Scalar");
        public static readonly Op Addcmul_ = new("aten::addcmul_");
        public static readonly Op Eq = new("aten::eq", "Tensor");
        public static readonly Op EqScalar = new("aten::eq", "Scalar");
        public static readonly Op Ne = new("aten::ne", "Tensor");
        public static readonly Op NeScalar = new("aten::ne", "Scalar");
        public static readonly Op Lt = new("aten::lt", "Tensor");
        public static readonly Op LtScalar = new("aten::lt", "Scalar");
        public static readonly Op Le = new("aten::le", "Tensor");
        public static readonly Op LeScalar = new("aten::le", "Scalar");
        public static readonly Op Gt = new("aten::gt", "Tensor");
        public static readonly Op GtScalar = new("aten::gt", "Scalar");
        public static readonly Op Ge = new("aten::ge", "Tensor");
        public static readonly Op GeScalar = new("aten::ge", "Scalar");
        public static readonly Op LogicalNot = new("aten::logical_not");
        public static readonly Op LogicalAnd = new("aten::logical_and");
        public static readonly Op LogicalOr = new("aten::logical_or");
        public static readonly Op IsFinite = new("aten::isfinite");
        public static readonly Op Sum = new("aten::sum");
        public static readonly Op SumDim = new("aten::sum", "dim_IntList");
        public static readonly Op Mean = new("aten::mean");
        public static readonly Op MeanDim = new("aten::mean", "dim");
        public static readonly Op VarDim = new("aten::var", "dim");
        public static readonly Op StdDim = new("aten::std", "dim");
        public static readonly Op Max = new("aten::max");
        public static readonly Op MaxDim = new("aten::max", "dim");
        public static readonly Op Min = new("aten::min");
        public static readonly Op MinDim = new("aten::min", "dim");
        public static readonly Op ArgMax = new("aten::argmax");
        public static readonly Op ArgSort = new("aten::argsort");
        public static readonly Op Sort = new("aten::sort");
        public static readonly Op TopK = new("aten::topk");
        public static readonly Op Norm = new("aten::linalg_vector_norm");
        public static readonly Op CumSum = new("aten::cumsum");
        public static readonly Op Any = new("aten::any");
        public static readonly Op All = new("aten::all");
        public static readonly Op LogSumExp = new("aten::logsumexp");
        public static readonly Op View = new("aten::view");
        public static readonly Op Reshape = new("aten::reshape");
        public static readonly Op Permute = new("aten::permute");
        public static readonly Op Transpose = new("aten::transpose", "int");
        public static readonly Op Flatten = new("aten::flatten", "using_ints");
        public static readonly Op Squeeze = new("aten::squeeze", "dim");
        public static readonly Op Unsqueeze = new("aten::unsqueeze");
        public static readonly Op Expand = new("aten::expand");
        public static readonly Op Repeat = new("aten::repeat");
        public static readonly Op RepeatInterleave = new("aten::repeat_interleave", "self_int");
        public static readonly Op Contiguous = new("aten::contiguous");
        public static readonly Op Chunk = new("aten::chunk");
        public static readonly Op Split = new("aten::split", "Tensor");
        public static readonly Op Narrow = new("aten::narrow");
        public static readonly Op Select = new("aten::select", "int");
        public static readonly Op Slice = new("aten::slice", "Tensor");
        public static readonly Op Clone = new("aten::clone");
        public static readonly Op Detach = new("aten::detach");
        public static readonly Op ToDtype = new("aten::to", "dtype");
        public static readonly Op ToDevice = new("aten::to", "device");
        public static readonly Op Flip = new("aten::flip");
        public static readonly Op Roll = new("aten::roll");
        public static readonly Op Gather = new("aten::gather");
        public static readonly Op Scatter = new("aten::scatter", "src");
        public static readonly Op ScatterValue = new("aten::scatter", "value");
        public static readonly Op ScatterAdd = new("aten::scatter_add");
        public static readonly Op IndexSelect = new("aten::index_select");
        public static readonly Op Index = new("aten::index", "Tensor");
        public static readonly Op IndexPut_ = new("aten::index_put_");
        public static readonly Op MaskedFill = new("aten::masked_fill", "Scalar");
        public static readonly Op MaskedFill_ = new("aten::masked_fill_", "Scalar");
        public static readonly Op Copy_ = new("aten::copy_");
        public static readonly Op Zero_ = new("aten::zero_");
        public static readonly Op Fill_ = new("aten::fill_", "Scalar");
        public static readonly Op Normal_ = new("aten::normal_");
        public static readonly Op Uniform_ = new("aten::uniform_");
        public static readonly Op Bmm = new("aten::bmm");
        public static readonly Op Softmax = new("aten::softmax", "int");
        public static readonly Op LogSoftmax = new("aten::log_softmax", "int");
        public static readonly Op Where = new("aten::where", "self");
        public static readonly Op Float = new("aten::to", "dtype");
    }

    // ------------------------------------------------------------------ arithmetic

    public unsafe Tensor Add(Tensor other, double alpha = 1)
    {
        IntPtr result;
        NativeMethods.Check(NativeMethods.vs_add(Handle, other.Handle, alpha, &result));
        return new Tensor(result);
    }
    public Tensor Add(double value) => A.AddScalar.Call(T(this), D(value));
    public Tensor Add(long value) => A.AddScalar.Call(T(this), I(value));
    public Tensor Sub(Tensor other, double alpha = 1) => A.Sub.Call(T(this), T(other), D(alpha));
    public Tensor Sub(double value) => A.SubScalar.Call(T(this), D(value));
    public Tensor Mul(Tensor other) => A.Mul.Call(T(this), T(other));
    public Tensor Mul(double value) => A.MulScalar.Call(T(this), D(value));
    public Tensor Mul(long value) => A.MulScalar.Call(T(this), I(value));
    public Tensor Div(Tensor other) => A.Div.Call(T(this), T(other));
    public Tensor Div(double value) => A.DivScalar.Call(T(this), D(value));
    /// <summary>Division rounded towards −∞ (Python's //), keeping integer dtypes.</summary>
    public Tensor FloorDivide(long value) => A.DivScalarMode.Call(T(this), I(value), Str("floor"));
    public Tensor Neg() => A.Neg.Call(T(this));
    public Tensor Pow(double exponent) => A.Pow.Call(T(this), D(exponent));
    public Tensor Pow(Tensor exponent) => A.PowTensor.Call(T(this), T(exponent));
    public Tensor Square() => Mul(this);
    public Tensor Sqrt() => A.Sqrt.Call(T(this));
    public Tensor Rsqrt() => A.Rsqrt.Call(T(this));
    public Tensor Exp() => A.Exp.Call(T(this));
    public Tensor Log() => A.Log.Call(T(this));
    public Tensor Abs() => A.Abs.Call(T(this));
    public Tensor Sin() => A.Sin.Call(T(this));
    public Tensor Cos() => A.Cos.Call(T(this));
    public Tensor Tanh() => A.Tanh.Call(T(this));
    public Tensor Sigmoid() => A.Sigmoid.Call(T(this));
    public Tensor Relu() => A.Relu.Call(T(this));
    public Tensor Erf() => A.Erf.Call(T(this));
    public Tensor Reciprocal() => A.Reciprocal.Call(T(this));
    public Tensor Clamp(double? min = null, double? max = null) => A.Clamp.Call(T(this), min is { } lo ? D(lo) : None, max is { } hi ? D(hi) : None);
    public Tensor ClampMin(double min) => A.ClampMin.Call(T(this), D(min));
    public Tensor Maximum(Tensor other) => A.Maximum.Call(T(this), T(other));
    public Tensor Minimum(Tensor other) => A.Minimum.Call(T(this), T(other));

    /// <summary>1 - this (Python's <c>1 - x</c>).</summary>
    public Tensor RSub(double value) => A.RSub.Call(T(this), D(value));

    // In-place variants return this tensor (no new handle), as PyTorch's trailing-underscore methods do.
    public Tensor Add_(Tensor other, double alpha = 1)
    {
        A.Add_.CallVoid(T(this), T(other), D(alpha));
        return this;
    }

    public Tensor Add_(double value)
    {
        A.AddScalar_.CallVoid(T(this), D(value));
        return this;
    }

    public Tensor Sub_(Tensor other, double alpha = 1)
    {
        A.Sub_.CallVoid(T(this), T(other), D(alpha));
        return this;
    }

    public Tensor Mul_(Tensor other)
    {
        A.Mul_.CallVoid(T(this), T(other));
        return this;
    }

    public Tensor Mul_(double value)
    {
        A.MulScalar_.CallVoid(T(this), D(value));
        return this;
    }

    public Tensor Div_(double value)
    {
        A.DivScalar_.CallVoid(T(this), D(value));
        return this;
    }

    public Tensor Clamp_(double? min = null, double? max = null)
    {
        A.Clamp_.CallVoid(T(this), min is { } lo ? D(lo) : None, max is { } hi ? D(hi) : None);
        return this;
    }

    /// <summary>this += weight · (end − this).</summary>
    public Tensor Lerp_(Tensor end, double weight)
    {
        A.Lerp_.CallVoid(T(this), T(end), D(weight));
        return this;
    }

    /// <summary>this += value · t1 · t2.</summary>
    public Tensor Addcmul_(Tensor tensor1, Tensor tensor2, double value = 1)
    {
        A.Addcmul_.CallVoid(T(this), T(tensor1), T(tensor2), D(value));
        return this;
    }

    public Tensor Copy_(Tensor source)
    {
        A.Copy_.CallVoid(T(this), T(source));
        return this;
    }

    public Tensor Zero_()
    {
        A.Zero_.CallVoid(T(this));
        return this;
    }

    public Tensor Fill_(double value)
    {
        A.Fill_.CallVoid(T(this), D(value));
        return this;
    }

    public Tensor Normal_(double mean = 0, double std = 1)
    {
        A.Normal_.CallVoid(T(this), D(mean), D(std));
        return this;
    }

    public Tensor Uniform_(double from = 0, double to = 1)
    {
        A.Uniform_.CallVoid(T(this), D(from), D(to));
        return this;
    }

    public Tensor MaskedFill_(Tensor mask, double value)
    {
        A.MaskedFill_.CallVoid(T(this), T(mask), D(value));
        return this;
    }

    /// <summary>this[indices] = values (advanced indexing; null entries stand for ':').</summary>
    public Tensor IndexPut_(IReadOnlyList<Tensor?> indices, Tensor values, bool accumulate = false)
    {
        A.IndexPut_.CallVoid(T(this), OptionalTensors(indices), T(values), B(accumulate));
        return this;
    }

    // ------------------------------------------------------------------ comparison and logic

    public Tensor Eq(Tensor other) => A.Eq.Call(T(this), T(other));
    public Tensor Eq(double value) => A.EqScalar.Call(T(this), D(value));
    public Tensor Ne(Tensor other) => A.Ne.Call(T(this), T(other));
    public Tensor Ne(double value) => A.NeScalar.Call(T(this), D(value));
    public Tensor Lt(Tensor other) => A.Lt.Call(T(this), T(other));
    public Tensor Lt(double value) => A.LtScalar.Call(T(this), D(value));
    public Tensor Le(Tensor other) => A.Le.Call(T(this), T(other));
    public Tensor Le(double value) => A.LeScalar.Call(T(this), D(value));
    public Tensor Gt(Tensor other) => A.Gt.Call(T(this), T(other));
    public Tensor Gt(double value) => A.GtScalar.Call(T(this), D(value));
    public Tensor Ge(Tensor other) => A.Ge.Call(T(this), T(other));
    public Tensor Ge(double value) => A.GeScalar.Call(T(this), D(value));
    public Tensor LogicalNot() => A.LogicalNot.Call(T(this));
    public Tensor LogicalAnd(Tensor other) => A.LogicalAnd.Call(T(this), T(other));
    public Tensor LogicalOr(Tensor other) => A.LogicalOr.Call(T(this), T(other));
    public Tensor IsFinite() => A.IsFinite.Call(T(this));

    /// <summary>Elementwise choice: where condition is true take this, else other.</summary>
    public Tensor Where(Tensor condition, Tensor other) => A.Where.Call(T(condition), T(this), T(other));

    // ------------------------------------------------------------------ reductions

    public Tensor Sum() => A.Sum.Call(T(this));
    public Tensor Sum(long[] dims, bool keepDim = false) => A.SumDim.Call(T(this), Ints(dims), B(keepDim));
    public Tensor Sum(long dim, bool keepDim = false) => Sum([dim], keepDim);
    public Tensor Mean() => A.Mean.Call(T(this));
    public Tensor Mean(long[] dims, bool keepDim = false) => A.MeanDim.Call(T(this), Ints(dims), B(keepDim));
    public Tensor Mean(long dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Variance over dims; unbiased (n − 1) by default, as torch.var.</summary>
    public Tensor Var(long[] dims, bool unbiased = true, bool keepDim = false) => A.VarDim.Call(T(this), Ints(dims), B(unbiased), B(keepDim));
    public Tensor Var(long dim, bool unbiased = true, bool keepDim = false) => Var([dim], unbiased, keepDim);
    public Tensor Std(long[] dims, bool unbiased = true, bool keepDim = false) => A.StdDim.Call(T(this), Ints(dims), B(unbiased), B(keepDim));
    public Tensor Max() => A.Max.Call(T(this));
    public (Tensor Values, Tensor Indices) Max(long dim, bool keepDim = false) => A.MaxDim.Call2(T(this), I(dim), B(keepDim));
    public Tensor Min() => A.Min.Call(T(this));
    public (Tensor Values, Tensor Indices) Min(long dim, bool keepDim = false) => A.MinDim.Call2(T(this), I(dim), B(keepDim));
    public Tensor ArgMax(long dim, bool keepDim = false) => A.ArgMax.Call(T(this), I(dim), B(keepDim));
    public Tensor ArgSort(long dim = -1, bool descending = false) => A.ArgSort.Call(T(this), I(dim), B(descending));
    public (Tensor Values, Tensor Indices) Sort(long dim = -1, bool descending = false) => A.Sort.Call2(T(this), I(dim), B(descending));
    public (Tensor Values, Tensor Indices) TopK(long k, long dim = -1, bool largest = true, bool sorted = true) => A.TopK.Call2(T(this), I(k), I(dim), B(largest), B(sorted));

    /// <summary>Vector p-norm over all elements, or over dims.</summary>
    public Tensor Norm(double p = 2, long[]? dims = null, bool keepDim = false) => A.Norm.Call(T(this), D(p), OptionalInts(dims), B(keepDim));
    public Tensor CumSum(long dim) => A.CumSum.Call(T(this), I(dim));
    public Tensor Any() => A.Any.Call(T(this));
    public Tensor All() => A.All.Call(T(this));
    public Tensor LogSumExp(long dim, bool keepDim = false) => A.LogSumExp.Call(T(this), Ints([dim]), B(keepDim));

    // ------------------------------------------------------------------ shape

    public Tensor View(params long[] shape) => A.View.Call(T(this), Ints(shape));
    public Tensor Reshape(params long[] shape) => A.Reshape.Call(T(this), Ints(shape));
    public Tensor Permute(params long[] dims) => A.Permute.Call(T(this), Ints(dims));
    public Tensor Transpose(long dim0, long dim1) => A.Transpose.Call(T(this), I(dim0), I(dim1));
    public Tensor Flatten(long startDim = 0, long endDim = -1) => A.Flatten.Call(T(this), I(startDim), I(endDim));
    public Tensor Squeeze(long dim) => A.Squeeze.Call(T(this), I(dim));
    public Tensor Unsqueeze(long dim) => A.Unsqueeze.Call(T(this), I(dim));
    public Tensor Expand(params long[] shape) => A.Expand.Call(T(this), Ints(shape));
    public Tensor Repeat(params long[] repeats) => A.Repeat.Call(T(this), Ints(repeats));
    public Tensor RepeatInterleave(long repeats, long dim) => A.RepeatInterleave.Call(T(this), I(repeats), I(dim));
    public Tensor Contiguous() => A.Contiguous.Call(T(this));
    public Tensor[] Chunk(long chunks, long dim = 0) => A.Chunk.CallMany((int)chunks, T(this), I(chunks), I(dim));
    public Tensor[] Split(long splitSize, long dim = 0) => A.Split.CallMany((int)((Size((int)dim) + splitSize - 1) / splitSize), T(this), I(splitSize), I(dim));
    public Tensor Narrow(long dim, long start, long length) => A.Narrow.Call(T(this), I(dim), I(start), I(length));
    public Tensor Select(long dim, long index) => A.Select.Call(T(this), I(dim), I(index));

    /// <summary>Python's x[..., start:end:step] along one dim (null end = to the end).</summary>
    public Tensor Slice(long dim, long? start = null, long? end = null, long step = 1) =>
        A.Slice.Call(T(this), I(dim), start is { } s ? I(s) : None, end is { } e ? I(e) : None, I(step));
    public Tensor Clone() => A.Clone.Call(T(this));

    /// <summary>The same data cut from the autograd graph.</summary>
    public Tensor Detach() => A.Detach.Call(T(this));
    public Tensor Flip(params long[] dims) => A.Flip.Call(T(this), Ints(dims));
    public Tensor Roll(long shift, long dim) => A.Roll.Call(T(this), Ints([shift]), Ints([dim]));

    // ------------------------------------------------------------------ conversion

    public Tensor To(ScalarType dtype, bool copy = false) => A.ToDtype.Call(T(this), I((long)dtype), B(false), B(copy));
    public Tensor To(Device device, ScalarType? dtype = null, bool nonBlocking = false) =>
        A.ToDevice.Call(T(this), Dev(device), I((long)(dtype ?? Dtype)), B(nonBlocking));
    public Tensor Float() => To(ScalarType.Float32);
    public Tensor Long() => To(ScalarType.Int64);
    public Tensor Cpu() => To(Device.CPU);

    // ------------------------------------------------------------------ indexing

    public Tensor Gather(long dim, Tensor index) => A.Gather.Call(T(this), I(dim), T(index));
    public Tensor Scatter(long dim, Tensor index, Tensor source) => A.Scatter.Call(T(this), I(dim), T(index), T(source));
    public Tensor Scatter(long dim, Tensor index, double value) => A.ScatterValue.Call(T(this), I(dim), T(index), D(value));
    public Tensor ScatterAdd(long dim, Tensor index, Tensor source) => A.ScatterAdd.Call(T(this), I(dim), T(index), T(source));
    public Tensor IndexSelect(long dim, Tensor index) => A.IndexSelect.Call(T(this), I(dim), T(index));

    /// <summary>Advanced indexing x[i0, i1, ...]; a null entry stands for ':'. A bool tensor selects by mask.</summary>
    public Tensor Index(params Tensor?[] indices) => A.Index.Call(T(this), OptionalTensors(indices));
    public Tensor MaskedFill(Tensor mask, double value) => A.MaskedFill.Call(T(this), T(mask), D(value));

    // ------------------------------------------------------------------ linear algebra and activations

    public unsafe Tensor MatMul(Tensor other)
    {
        IntPtr result;
        NativeMethods.Check(NativeMethods.vs_matmul(Handle, other.Handle, &result));
        return new Tensor(result);
    }
    public Tensor Bmm(Tensor other) => A.Bmm.Call(T(this), T(other));
    public Tensor Softmax(long dim, ScalarType? dtype = null) => A.Softmax.Call(T(this), I(dim), Dtype(dtype));
    public Tensor LogSoftmax(long dim, ScalarType? dtype = null) => A.LogSoftmax.Call(T(this), I(dim), Dtype(dtype));

    // ------------------------------------------------------------------ operators

    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    public static Tensor operator +(Tensor a, double b) => a.Add(b);
    public static Tensor operator +(double a, Tensor b) => b.Add(a);
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    public static Tensor operator -(Tensor a, double b) => a.Sub(b);
    public static Tensor operator -(double a, Tensor b) => b.RSub(a);
    public static Tensor operator -(Tensor a) => a.Neg();
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    public static Tensor operator *(Tensor a, double b) => a.Mul(b);
    public static Tensor operator *(double a, Tensor b) => b.Mul(a);
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    public static Tensor operator /(Tensor a, double b) => a.Div(b);
}
