using System.Runtime.InteropServices;

namespace VideoSSL.Torch.Serialization;

/// <summary>
/// A named tensor as raw bytes: row-major, little-endian, contiguous. It is the currency of the weight readers
/// and writers, which must not depend on the native tensor type. The bytes may live in a memory-mapped file
/// (see <see cref="SafeTensorsFile"/>): they are valid only while that file is open; <see cref="Detach"/> copies.
/// </summary>
public sealed class TensorData
{
    public TensorData(string name, ScalarType dtype, long[] shape, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        long numel = CountElements(shape, name);
        long expected;
        try
        {
            expected = checked(numel * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] is too large", nameof(shape));
        }
        if (data.Length != expected)
        {
            throw new ArgumentException(
                $"tensor '{name}': {data.Length} bytes given but {dtype} [{string.Join(", ", shape)}] needs {expected}",
                nameof(data));
        }
        Name = name;
        Dtype = dtype;
        Shape = shape;
        Data = data;
    }

    public string Name { get; }

    public ScalarType Dtype { get; }

    public long[] Shape { get; }

    public ReadOnlyMemory<byte> Data { get; }

    public long ElementCount => Data.Length / Dtype.ElementSize();

    public TensorData WithName(string name) => new(name, Dtype, Shape, Data);

    /// <summary>A copy whose bytes live in a managed array, independent of any mapped file.</summary>
    public TensorData Detach() => new(Name, Dtype, (long[])Shape.Clone(), Data.ToArray());

    public override string ToString() => $"{Name}: {Dtype} [{string.Join(", ", Shape)}]";

    /// <summary>Values as float (exact for F16/BF16, rounded for F64); for tests, tools and comparisons.</summary>
    public float[] ToFloatArray()
    {
        ThrowIfBigEndian();
        var bytes = Data.Span;
        var result = new float[ElementCount];
        switch (Dtype)
        {
            case ScalarType.Float32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result);
                break;
            case ScalarType.Float64:
                var doubles = MemoryMarshal.Cast<byte, double>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)doubles[i];
                }
                break;
            case ScalarType.Float16:
                var halves = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)halves[i];
                }
                break;
            case ScalarType.BFloat16:
                var bf16 = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BFloat16ToSingle(bf16[i]);
                }
                break;
            default:
                throw new NotSupportedException($"tensor '{Name}': {Dtype} is not a floating-point type; use ToInt64Array");
        }
        return result;
    }

    /// <summary>Values of an integer or bool tensor widened to long.</summary>
    public long[] ToInt64Array()
    {
        ThrowIfBigEndian();
        var bytes = Data.Span;
        var result = new long[ElementCount];
        switch (Dtype)
        {
            case ScalarType.UInt8:
            case ScalarType.Bool:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = bytes[i];
                }
                break;
            case ScalarType.Int8:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (sbyte)bytes[i];
                }
                break;
            case ScalarType.Int16:
                var shorts = MemoryMarshal.Cast<byte, short>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = shorts[i];
                }
                break;
            case ScalarType.Int32:
                var ints = MemoryMarshal.Cast<byte, int>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = ints[i];
                }
                break;
            case ScalarType.Int64:
                MemoryMarshal.Cast<byte, long>(bytes).CopyTo(result);
                break;
            default:
                throw new NotSupportedException($"tensor '{Name}': {Dtype} is not an integer type; use ToFloatArray");
        }
        return result;
    }

    /// <summary>Builds a floating-point tensor from float values, rounding to F16/BF16 as torch does (nearest even).</summary>
    public static TensorData FromFloats(string name, ScalarType dtype, long[] shape, ReadOnlySpan<float> values)
    {
        ThrowIfBigEndian();
        byte[] bytes = new byte[values.Length * dtype.ElementSize()];
        switch (dtype)
        {
            case ScalarType.Float32:
                MemoryMarshal.AsBytes(values).CopyTo(bytes);
                break;
            case ScalarType.Float64:
                var doubles = MemoryMarshal.Cast<byte, double>(bytes.AsSpan());
                for (int i = 0; i < values.Length; i++)
                {
                    doubles[i] = values[i];
                }
                break;
            case ScalarType.Float16:
                var halves = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan());
                for (int i = 0; i < values.Length; i++)
                {
                    halves[i] = (Half)values[i];
                }
                break;
            case ScalarType.BFloat16:
                var bf16 = MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan());
                for (int i = 0; i < values.Length; i++)
                {
                    bf16[i] = SingleToBFloat16(values[i]);
                }
                break;
            default:
                throw new NotSupportedException($"tensor '{name}': FromFloats needs a floating-point dtype, not {dtype}");
        }
        return new TensorData(name, dtype, shape, bytes);
    }

    /// <summary>Builds a tensor from values whose C# type has the dtype's element size (long for I64, byte for BOOL...).</summary>
    public static TensorData FromValues<T>(string name, ScalarType dtype, long[] shape, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        ThrowIfBigEndian();
        if (Marshal.SizeOf<T>() != dtype.ElementSize())
        {
            throw new ArgumentException($"tensor '{name}': {typeof(T).Name} does not have the size of a {dtype} element");
        }
        return new TensorData(name, dtype, shape, MemoryMarshal.AsBytes(values).ToArray());
    }

    public static float BFloat16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Round to nearest even, keeping NaN a NaN (the plain rounding could carry it into infinity).</summary>
    public static ushort SingleToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040);
        }
        uint rounding = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + rounding) >> 16);
    }

    internal static long CountElements(long[] shape, string name)
    {
        long numel = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentException($"tensor '{name}': negative dimension in shape [{string.Join(", ", shape)}]");
            }
            try
            {
                numel = checked(numel * dim);
            }
            catch (OverflowException)
            {
                throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] is too large");
            }
        }
        return numel;
    }

    internal static void ThrowIfBigEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("weight files are little-endian; big-endian hosts are not supported");
        }
    }
}
