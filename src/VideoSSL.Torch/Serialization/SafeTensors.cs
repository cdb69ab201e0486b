using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace VideoSSL.Torch.Serialization;

/// <summary>
/// The safetensors format (huggingface/safetensors): u64 LE header length N, N bytes of JSON, then the data buffer.
/// Reading maps the file; writing is atomic (temp file in the same folder, flushed, then renamed over the target).
/// </summary>
public static class SafeTensors
{
    /// <summary>The same bound as the reference implementation: a bigger header is corrupt or hostile.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    public static SafeTensorsFile Read(string path) => SafeTensorsFile.Open(path);

    /// <summary>Reads every tensor into managed memory and closes the file: simple, for small files and tests.</summary>
    public static List<TensorData> ReadAll(string path)
    {
        using var file = Read(path);
        return file.Tensors.Values.Select(t => t.Detach()).ToList();
    }

    /// <summary>
    /// Writes the tensors in the order given (so a state_dict keeps its order). The enumerable is fully read
    /// before the file is created; the target is replaced only once everything is on disk.
    /// </summary>
    public static void Write(string path, IEnumerable<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Write(path, tensors.Select(t => new Entry(t.Name, t.Dtype, t.Shape, t.Data.Length, stream => stream.Write(t.Data.Span))).ToList(), metadata);
    }

    /// <summary>
    /// One tensor to write: its header fields, its length in bytes, and a callback that puts exactly that many bytes
    /// on the stream, so the bytes can be produced one tensor at a time instead of all being held before the write.
    /// </summary>
    public sealed record Entry(string Name, ScalarType Dtype, long[] Shape, long ByteLength, Action<Stream> WriteData);

    /// <summary>As <see cref="Write(string, IEnumerable{TensorData}, IReadOnlyDictionary{string, string}?)"/>, with each tensor's bytes written by its entry.</summary>
    public static void Write(string path, IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        TensorData.ThrowIfBigEndian();
        foreach (var t in tensors)
        {
            var expected = TensorData.CountElements(t.Shape, t.Name) * t.Dtype.ElementSize();
            if (t.ByteLength != expected)
            {
                throw new ArgumentException($"tensor '{t.Name}': {t.ByteLength} bytes given but {t.Dtype} [{string.Join(", ", t.Shape)}] needs {expected}");
            }
        }
        byte[] header = BuildHeader(tensors, metadata);

        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        string tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var tensor in tensors)
                {
                    var start = stream.Position;
                    tensor.WriteData(stream);
                    if (stream.Position - start != tensor.ByteLength)
                    {
                        throw new InvalidOperationException($"tensor '{tensor.Name}': wrote {stream.Position - start} bytes, the header says {tensor.ByteLength}");
                    }
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    internal static string ToSafeTensorsName(ScalarType dtype, string tensorName) => dtype switch
    {
        ScalarType.Bool => "BOOL",
        ScalarType.UInt8 => "U8",
        ScalarType.Int8 => "I8",
        ScalarType.Int16 => "I16",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int32 => "I32",
        ScalarType.Float32 => "F32",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        _ => throw new NotSupportedException($"tensor '{tensorName}': dtype {dtype} has no safetensors equivalent here"),
    };

    /// <summary>False for a name we cannot hold; <paramref name="known"/> then tells a real safetensors dtype from garbage.</summary>
    internal static bool TryParseDtype(string name, out ScalarType dtype, out bool known)
    {
        known = true;
        switch (name)
        {
            case "BOOL": dtype = ScalarType.Bool; return true;
            case "U8": dtype = ScalarType.UInt8; return true;
            case "I8": dtype = ScalarType.Int8; return true;
            case "I16": dtype = ScalarType.Int16; return true;
            case "F16": dtype = ScalarType.Float16; return true;
            case "BF16": dtype = ScalarType.BFloat16; return true;
            case "I32": dtype = ScalarType.Int32; return true;
            case "F32": dtype = ScalarType.Float32; return true;
            case "F64": dtype = ScalarType.Float64; return true;
            case "I64": dtype = ScalarType.Int64; return true;
        }
        dtype = default;
        known = name is "U16" or "U32" or "U64" or "C64" or "F8_E4M3" or "F8_E5M2" or "F8_E8M0" or "F4" or "F6_E2M3" or "F6_E3M2";
        return false;
    }

    private static byte[] BuildHeader(IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var json = new MemoryStream();
        // Relaxed escaping keeps names readable; the output is still plain JSON any parser accepts.
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            if (metadata is not null && metadata.Count > 0)
            {
                writer.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    writer.WriteString(key, value);
                }
                writer.WriteEndObject();
            }
            long offset = 0;
            foreach (var tensor in tensors)
            {
                if (tensor.Name == MetadataKey)
                {
                    throw new ArgumentException($"'{MetadataKey}' is reserved and cannot name a tensor");
                }
                if (!names.Add(tensor.Name))
                {
                    throw new ArgumentException($"tensor '{tensor.Name}' is given twice");
                }
                writer.WriteStartObject(tensor.Name);
                writer.WriteString("dtype", ToSafeTensorsName(tensor.Dtype, tensor.Name));
                writer.WriteStartArray("shape");
                foreach (long dim in tensor.Shape)
                {
                    writer.WriteNumberValue(dim);
                }
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                offset += tensor.ByteLength;
                writer.WriteNumberValue(offset);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        // Pad with spaces so the data buffer starts 8-byte aligned (8 + N is a multiple of 8).
        int padded = (int)((json.Length + 7) / 8 * 8);
        byte[] header = new byte[padded];
        json.GetBuffer().AsSpan(0, (int)json.Length).CopyTo(header);
        header.AsSpan((int)json.Length).Fill((byte)' ');
        return header;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
