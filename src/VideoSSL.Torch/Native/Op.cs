using System.Text;

namespace VideoSSL.Torch.Native;

/// <summary>
/// An ATen operator called through the dispatcher by schema name ("aten::add", "Tensor"). Arguments not
/// given are filled from the schema's defaults by the shim, so a call lists only what it sets, in schema
/// order (pass <see cref="OpArg.Default"/> to skip one).
/// </summary>
internal sealed unsafe class Op
{
    private readonly string _name;
    private readonly string _overload;
    private int _index = int.MinValue;

    public Op(string name, string overload = "")
    {
        _name = name;
        _overload = overload;
    }

    public string FullName => _overload.Length == 0 ? _name : $"{_name}.{_overload}";

    /// <summary>False when this libtorch has no such operator (e.g. SDPA on 1.13).</summary>
    public bool IsAvailable => Resolve() >= 0;

    private int Resolve()
    {
        if (_index == int.MinValue)
        {
            NativeMethods.EnsureLoaded();
            var index = NativeMethods.vs_op_find(_name, _overload);
            if (index == -2)
            {
                throw new TorchException(NativeMethods.LastError());
            }
            _index = index;
        }
        return _index;
    }

    private int Index
    {
        get
        {
            var index = Resolve();
            if (index < 0)
            {
                throw new NotSupportedException($"libtorch {Torch.Version} has no operator {FullName}");
            }
            return index;
        }
    }

    public string Schema
    {
        get
        {
            var buffer = new byte[4096];
            fixed (byte* p = buffer)
            {
                var n = NativeMethods.vs_op_schema(Index, p, buffer.Length);
                return Encoding.UTF8.GetString(buffer, 0, (int)Math.Min(n, buffer.Length - 1));
            }
        }
    }

    /// <summary>Calls an operator that returns one tensor.</summary>
    public Tensor Call(params ReadOnlySpan<OpArg> args)
    {
        OpArg result;
        int n;
        fixed (OpArg* a = args)
        {
            NativeMethods.Check(NativeMethods.vs_op_call(Index, a, args.Length, &result, 1, &n));
        }
        if (n != 1 || result.Kind != OpArg.ArgKind.Tensor)
        {
            throw new TorchException($"{FullName} returned {n} values, expected one tensor");
        }
        return new Tensor((IntPtr)result.Pointer);
    }

    /// <summary>Calls an operator for its side effect (in-place ops); returned aliases are dropped natively.</summary>
    public void CallVoid(params ReadOnlySpan<OpArg> args)
    {
        fixed (OpArg* a = args)
        {
            NativeMethods.Check(NativeMethods.vs_op_call(Index, a, args.Length, null, 0, null));
        }
    }

    /// <summary>Calls an operator returning several tensors (a tuple or a tensor list) of at most capacity entries.</summary>
    public Tensor[] CallMany(int capacity, params ReadOnlySpan<OpArg> args)
    {
        var results = capacity <= 64 ? stackalloc OpArg[capacity] : new OpArg[capacity];
        int n;
        fixed (OpArg* a = args)
        fixed (OpArg* r = results)
        {
            NativeMethods.Check(NativeMethods.vs_op_call(Index, a, args.Length, r, capacity, &n));
        }
        var tensors = new Tensor[n];
        for (var k = 0; k < n; k++)
        {
            if (results[k].Kind != OpArg.ArgKind.Tensor)
            {
                throw new TorchException($"{FullName} returned a non-tensor value at position {k}");
            }
            tensors[k] = new Tensor((IntPtr)results[k].Pointer);
        }
        return tensors;
    }

    public (Tensor, Tensor) Call2(params ReadOnlySpan<OpArg> args)
    {
        var r = CallMany(2, args);
        return (r[0], r[1]);
    }
}
