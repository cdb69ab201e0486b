using System.Runtime.InteropServices;
using System.Text;

namespace VideoSSL.Torch.Native;

/// <summary>One operator argument or result, laid out as vs_arg in native/torch/shim.cpp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct OpArg
{
    public ArgKind Kind;
    public int Count;
    public long IntValue;
    public double DoubleValue;
    public void* Pointer;

    internal enum ArgKind : int
    {
        Default = 0,
        None = 1,
        Tensor = 2,
        Int = 3,
        Double = 4,
        Bool = 5,
        IntList = 6,
        DoubleList = 7,
        TensorList = 8,
        OptionalTensorList = 9,
        String = 10,
        Device = 11,
    }

    // Tensors passed by handle could be finalized mid-call when nothing else references them (a temporary
    // outside any scope). Each argument tensor is parked in a per-thread ring, which keeps it reachable until
    // long after the synchronous call that used it has returned. One thread-static read per argument.
    [ThreadStatic]
    private static KeepAliveRing? t_keepAlive;

    private sealed class KeepAliveRing
    {
        public readonly Tensor?[] Slots = new Tensor?[64];
        public int Next;
    }

    private static void KeepAlive(Tensor tensor)
    {
        var ring = t_keepAlive ??= new KeepAliveRing();
        ring.Slots[ring.Next] = tensor;
        ring.Next = (ring.Next + 1) & 63;
    }

    public static OpArg Default => default;

    public static OpArg None => new() { Kind = ArgKind.None };

    public static OpArg T(Tensor? tensor)
    {
        if (tensor is null)
        {
            return None;
        }
        KeepAlive(tensor);
        return new OpArg { Kind = ArgKind.Tensor, Pointer = (void*)tensor.Handle };
    }

    public static OpArg I(long value) => new() { Kind = ArgKind.Int, IntValue = value };

    public static OpArg D(double value) => new() { Kind = ArgKind.Double, DoubleValue = value };

    public static OpArg B(bool value) => new() { Kind = ArgKind.Bool, IntValue = value ? 1 : 0 };

    public static OpArg Dtype(ScalarType? type) => type is { } t ? I((long)t) : None;

    public static OpArg Dev(Device device) => new() { Kind = ArgKind.Device, IntValue = (long)device.Type, Count = device.Index };

    public static OpArg Ints(ReadOnlySpan<long> values)
    {
        var p = (long*)ArgArena.Alloc(values.Length * sizeof(long));
        values.CopyTo(new Span<long>(p, values.Length));
        return new OpArg { Kind = ArgKind.IntList, Count = values.Length, Pointer = p };
    }

    public static OpArg Ints(ReadOnlySpan<int> values)
    {
        var p = (long*)ArgArena.Alloc(values.Length * sizeof(long));
        for (var k = 0; k < values.Length; k++)
        {
            p[k] = values[k];
        }
        return new OpArg { Kind = ArgKind.IntList, Count = values.Length, Pointer = p };
    }

    public static OpArg OptionalInts(long[]? values) => values is null ? None : Ints(values);

    public static OpArg Tensors(IReadOnlyList<Tensor> tensors) => TensorList(tensors, ArgKind.TensorList);

    public static OpArg OptionalTensors(IReadOnlyList<Tensor?> tensors) => TensorList(tensors, ArgKind.OptionalTensorList);

    private static OpArg TensorList(IReadOnlyList<Tensor?> tensors, ArgKind kind)
    {
        var p = (IntPtr*)ArgArena.Alloc(tensors.Count * sizeof(IntPtr));
        for (var k = 0; k < tensors.Count; k++)
        {
            var t = tensors[k];
            if (t is null && kind == ArgKind.TensorList)
            {
                throw new ArgumentNullException(nameof(tensors), $"tensor list entry {k} is null");
            }
            p[k] = t?.Handle ?? IntPtr.Zero;
        }
        return new OpArg { Kind = kind, Count = tensors.Count, Pointer = p };
    }

    public static OpArg Str(string value)
    {
        var bytes = Encoding.UTF8.GetByteCount(value);
        var p = (byte*)ArgArena.Alloc(bytes + 1);
        Encoding.UTF8.GetBytes(value, new Span<byte>(p, bytes));
        p[bytes] = 0;
        return new OpArg { Kind = ArgKind.String, Pointer = p };
    }
}

/// <summary>
/// Per-thread scratch memory for list arguments. A bump allocator that wraps: a list is only read during
/// the synchronous call it belongs to, so memory can be reused once far more has been handed out since.
/// </summary>
internal static unsafe class ArgArena
{
    private const int Capacity = 1 << 20;

    [ThreadStatic]
    private static byte* t_base;
    [ThreadStatic]
    private static int t_offset;

    public static void* Alloc(int bytes)
    {
        if (t_base == null)
        {
            t_base = (byte*)NativeMemory.Alloc(Capacity);
        }
        bytes = (bytes + 15) & ~15;
        if (bytes > Capacity / 4)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), $"an operator argument list of {bytes} bytes is too large");
        }
        if (t_offset + bytes > Capacity)
        {
            t_offset = 0;
        }
        var p = t_base + t_offset;
        t_offset += bytes;
        return p;
    }
}
