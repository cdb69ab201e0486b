using System.Runtime.InteropServices;
using VideoSSL.Torch.Native;

namespace VideoSSL.Torch;

/// <summary>
/// A handle to a libtorch tensor. Native memory is freed by <see cref="Dispose"/>: either directly, or by
/// the innermost <see cref="DisposeScope"/> that was open when the tensor was created. A finalizer is only
/// a safety net, and only for tensors no scope owns; GPU memory must never wait for the garbage collector.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private static long s_live;
    private IntPtr _handle;

    // The safety net for tensors outside any scope. Scope-owned tensors (all the temporaries of a step) carry
    // none, which keeps finalizable allocations off the per-op path.
    private FinalizerGuard? _guard;

    internal Tensor(IntPtr handle)
    {
        if (handle == IntPtr.Zero)
        {
            throw new TorchException("libtorch returned a null tensor");
        }
        _handle = handle;
        Interlocked.Increment(ref s_live);
        var scope = DisposeScope.Current;
        if (scope is null)
        {
            _guard = new FinalizerGuard(handle);
        }
        else
        {
            scope.Register(this);
        }
    }

    /// <summary>Frees the handle if its tensor becomes unreachable without being disposed.</summary>
    private sealed class FinalizerGuard(IntPtr handle)
    {
        ~FinalizerGuard()
        {
            NativeMethods.vs_tensor_free(handle);
            Interlocked.Decrement(ref s_live);
        }
    }

    private void GuardIfUnowned()
    {
        if (Scope is null && _guard is null && _handle != IntPtr.Zero)
        {
            _guard = new FinalizerGuard(_handle);
        }
    }

    /// <summary>Tensors created and not yet disposed (finalized ones excluded): lets tests prove nothing leaks.</summary>
    public static long LiveCount => Interlocked.Read(ref s_live);

    /// <summary>The scope that will dispose this tensor, or null when the caller owns it.</summary>
    internal DisposeScope? Scope { get; set; }

    public bool IsDisposed => _handle == IntPtr.Zero;

    internal IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException(nameof(Tensor), "the tensor was disposed (by its scope or explicitly)");

    public void Dispose()
    {
        var handle = Interlocked.Exchange(ref _handle, IntPtr.Zero);
        if (handle == IntPtr.Zero)
        {
            return;
        }
        if (_guard is not null)
        {
            GC.SuppressFinalize(_guard);
            _guard = null;
        }
        NativeMethods.vs_tensor_free(handle);
        Interlocked.Decrement(ref s_live);
    }

    /// <summary>Takes this tensor out of its scope: the caller now owns it and must dispose it.</summary>
    public Tensor DetachFromScope()
    {
        Scope?.Forget(this);
        Scope = null;
        GuardIfUnowned();
        return this;
    }

    /// <summary>Moves this tensor from its scope to the enclosing one (or to the caller, outside any scope).</summary>
    public Tensor MoveToOuterScope()
    {
        var scope = Scope;
        if (scope is null)
        {
            return this;
        }
        scope.Forget(this);
        Scope = null;
        scope.Parent?.Register(this);
        GuardIfUnowned();
        return this;
    }

    /// <summary>A second handle to the same data and autograd node, owned independently.</summary>
    public Tensor Share() => new(NativeMethods.vs_tensor_share(Handle));

    // ------------------------------------------------------------------ metadata

    private unsafe TensorMeta Meta()
    {
        TensorMeta meta;
        NativeMethods.Check(NativeMethods.vs_tensor_meta_get(Handle, &meta, null, null, 0));
        return meta;
    }

    public int Dim => Meta().Ndim;

    public long Numel => Meta().Numel;

    public ScalarType Dtype => (ScalarType)Meta().Dtype;

    public Device Device
    {
        get
        {
            var meta = Meta();
            return new Device((DeviceType)meta.DeviceType, meta.DeviceIndex);
        }
    }

    public bool IsLeaf => Meta().IsLeaf != 0;

    public unsafe long[] Shape
    {
        get
        {
            TensorMeta meta;
            Span<long> sizes = stackalloc long[16];
            fixed (long* s = sizes)
            {
                NativeMethods.Check(NativeMethods.vs_tensor_meta_get(Handle, &meta, s, null, 16));
            }
            if (meta.Ndim > 16)
            {
                throw new NotSupportedException("tensors of more than 16 dimensions");
            }
            return sizes[..meta.Ndim].ToArray();
        }
    }

    public unsafe long[] Strides
    {
        get
        {
            TensorMeta meta;
            Span<long> strides = stackalloc long[16];
            fixed (long* s = strides)
            {
                NativeMethods.Check(NativeMethods.vs_tensor_meta_get(Handle, &meta, null, s, 16));
            }
            return strides[..meta.Ndim].ToArray();
        }
    }

    /// <summary>Size of one dimension; negative indices count from the end.</summary>
    public long Size(int dim)
    {
        var shape = Shape;
        return shape[dim < 0 ? dim + shape.Length : dim];
    }

    public bool RequiresGrad
    {
        get => Meta().RequiresGrad != 0;
        set => NativeMethods.Check(NativeMethods.vs_tensor_set_requires_grad(Handle, value ? 1 : 0));
    }

    public Tensor RequiresGrad_(bool value = true)
    {
        RequiresGrad = value;
        return this;
    }

    /// <summary>The accumulated gradient as a new handle (dispose it), or null before any backward.</summary>
    public unsafe Tensor? Grad
    {
        get
        {
            IntPtr g;
            NativeMethods.Check(NativeMethods.vs_tensor_grad(Handle, &g));
            return g == IntPtr.Zero ? null : new Tensor(g);
        }
        set => NativeMethods.Check(NativeMethods.vs_tensor_set_grad(Handle, value?.Handle ?? IntPtr.Zero));
    }

    public void Backward(Tensor? gradient = null, bool retainGraph = false) =>
        NativeMethods.Check(NativeMethods.vs_backward(Handle, gradient?.Handle ?? IntPtr.Zero, retainGraph ? 1 : 0));

    public unsafe double Item()
    {
        double d;
        long l;
        NativeMethods.Check(NativeMethods.vs_tensor_item(Handle, &d, &l));
        return d;
    }

    public unsafe long ItemLong()
    {
        double d;
        long l;
        NativeMethods.Check(NativeMethods.vs_tensor_item(Handle, &d, &l));
        return l;
    }

    public float ItemFloat() => (float)Item();

    // ------------------------------------------------------------------ host copies

    /// <summary>A new CPU tensor holding a copy of the bytes (row-major, little-endian) of the given shape.</summary>
    public static unsafe Tensor FromBytes(ReadOnlySpan<byte> data, ScalarType dtype, ReadOnlySpan<long> shape, Device? device = null)
    {
        NativeMethods.EnsureLoaded();
        var target = device ?? Device.CPU;
        IntPtr result;
        fixed (byte* d = data)
        fixed (long* s = shape)
        {
            NativeMethods.Check(NativeMethods.vs_tensor_from_host(d, data.Length, s, shape.Length, (sbyte)dtype, (sbyte)target.Type, (short)target.Index, &result));
        }
        return new Tensor(result);
    }

    public static Tensor From<T>(ReadOnlySpan<T> data, ReadOnlySpan<long> shape, Device? device = null)
        where T : unmanaged => FromBytes(MemoryMarshal.AsBytes(data), DtypeOf<T>(), shape, device);

    public static Tensor From<T>(T[] data, params long[] shape)
        where T : unmanaged => From<T>(data.AsSpan(), shape.Length == 0 ? [data.Length] : shape);

    /// <summary>Copies the elements (row-major) into a span whose element size matches the dtype.</summary>
    public unsafe void CopyTo<T>(Span<T> destination)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(destination);
        fixed (byte* d = bytes)
        {
            NativeMethods.Check(NativeMethods.vs_tensor_to_host(Handle, d, bytes.Length));
        }
    }

    public T[] ToArray<T>()
        where T : unmanaged
    {
        var dtype = Dtype;
        if (dtype.ElementSize() != System.Runtime.CompilerServices.Unsafe.SizeOf<T>())
        {
            throw new InvalidOperationException($"cannot copy a {dtype} tensor into {typeof(T).Name}[]: convert it with To() first");
        }
        var result = new T[Numel];
        CopyTo<T>(result);
        return result;
    }

    public byte[] ToBytes()
    {
        var result = new byte[Numel * Dtype.ElementSize()];
        CopyTo<byte>(result);
        return result;
    }

    internal static ScalarType DtypeOf<T>() => typeof(T) switch
    {
        var t when t == typeof(float) => ScalarType.Float32,
        var t when t == typeof(double) => ScalarType.Float64,
        var t when t == typeof(long) => ScalarType.Int64,
        var t when t == typeof(int) => ScalarType.Int32,
        var t when t == typeof(short) => ScalarType.Int16,
        var t when t == typeof(byte) => ScalarType.UInt8,
        var t when t == typeof(sbyte) => ScalarType.Int8,
        var t when t == typeof(bool) => ScalarType.Bool,
        var t when t == typeof(Half) => ScalarType.Float16,
        _ => throw new NotSupportedException($"no tensor dtype for {typeof(T).Name}"),
    };

    public override string ToString()
    {
        if (IsDisposed)
        {
            return "Tensor(disposed)";
        }
        return $"Tensor(shape=[{string.Join(", ", Shape)}], dtype={Dtype}, device={Device}{(RequiresGrad ? ", requires_grad" : string.Empty)})";
    }
}
