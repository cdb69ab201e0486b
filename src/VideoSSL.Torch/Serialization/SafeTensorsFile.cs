using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace VideoSSL.Torch.Serialization;

/// <summary>
/// An open, validated, memory-mapped safetensors file. Tensor bytes are read from the mapping on demand, so
/// opening a multi-gigabyte checkpoint costs only its header; they are invalid once the file is disposed
/// (using them then throws <see cref="ObjectDisposedException"/>; <see cref="TensorData.Detach"/> keeps a copy).
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _dataStart;
    private bool _disposed;

    private SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataOffset)
    {
        Path = path;
        _map = map;
        _view = view;
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _dataStart = pointer + _view.PointerOffset + dataOffset;
    }

    public string Path { get; }

    /// <summary>Tensors in the order their bytes appear in the file.</summary>
    public IReadOnlyDictionary<string, TensorData> Tensors { get; private set; } = new OrderedDictionary<string, TensorData>();

    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    public TensorData this[string name] => Tensors.TryGetValue(name, out var tensor)
        ? tensor
        : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _dataStart = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    internal static SafeTensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        TensorData.ThrowIfBigEndian();
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        List<Entry> entries;
        Dictionary<string, string> metadata;
        long headerLength;
        MemoryMappedFile map;
        try
        {
            (entries, metadata, headerLength) = ReadHeader(path, stream);
            // The mapping takes ownership of the stream: tensor bytes outlive this method.
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }

        MemoryMappedViewAccessor? view = null;
        SafeTensorsFile? file = null;
        try
        {
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            file = new SafeTensorsFile(path, map, view, 8 + headerLength);
            var tensors = new OrderedDictionary<string, TensorData>(entries.Count);
            foreach (var entry in entries)
            {
                long length = entry.End - entry.Begin;
                if (length > int.MaxValue)
                {
                    throw new NotSupportedException($"{path}: tensor '{entry.Name}' is {length} bytes; tensors over 2 GiB are not supported");
                }
                var memory = new MappedMemory(file, entry.Begin, (int)length).Memory;
                tensors.Add(entry.Name, new TensorData(entry.Name, entry.Dtype, entry.Shape, memory));
            }
            file.Tensors = tensors;
            file.Metadata = metadata;
            return file;
        }
        catch
        {
            if (file is not null)
            {
                file.Dispose();
            }
            else
            {
                view?.Dispose();
                map.Dispose();
            }
            throw;
        }
    }

    private static (List<Entry> Entries, Dictionary<string, string> Metadata, long HeaderLength) ReadHeader(string path, FileStream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw Invalid(path, $"file is {fileLength} bytes, too short for the 8-byte header length");
        }
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > SafeTensors.MaxHeaderBytes)
        {
            throw Invalid(path, $"header length {headerLength} exceeds the {SafeTensors.MaxHeaderBytes}-byte limit");
        }
        if ((long)headerLength > fileLength - 8)
        {
            throw Invalid(path, $"header length {headerLength} exceeds the {fileLength - 8} bytes after the length field (truncated file?)");
        }
        byte[] header = new byte[headerLength];
        stream.ReadExactly(header);
        var (entries, metadata) = ParseHeader(path, header, fileLength - 8 - (long)headerLength);
        return (entries, metadata, (long)headerLength);
    }

    private sealed record Entry(string Name, ScalarType Dtype, long[] Shape, long Begin, long End);

    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(string path, byte[] header, long dataLength)
    {
        if (header.Length == 0 || header[0] != (byte)'{')
        {
            throw Invalid(path, "header does not start with '{'");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"header is not valid JSON ({e.Message})");
        }
        using (document)
        {
            try
            {
                return ParseEntries(path, document.RootElement, dataLength);
            }
            catch (InvalidOperationException e)
            {
                // JsonDocument checks UTF-8 only when a string is read (GetString / Name).
                throw Invalid(path, $"header holds text that is not valid UTF-8 in a tensor name or metadata ({e.Message})");
            }
        }
    }

    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseEntries(string path, JsonElement root, long dataLength)
    {
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path, "header is not a JSON object");
            }
            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                string name = property.Name;
                if (!seen.Add(name))
                {
                    throw Invalid(path, $"entry '{name}' appears twice");
                }
                if (name == SafeTensors.MetadataKey)
                {
                    ReadMetadata(path, property.Value, metadata);
                    continue;
                }
                entries.Add(ReadEntry(path, name, property.Value));
            }
            CheckLayout(path, entries, dataLength);
            return (entries, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, $"'{SafeTensors.MetadataKey}' is not an object");
        }
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw Invalid(path, $"metadata '{item.Name}' is not a string");
            }
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw Invalid(path, $"metadata '{item.Name}' appears twice");
            }
        }
    }

    private static Entry ReadEntry(string path, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, $"tensor '{name}': entry is not an object");
        }
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Invalid(path, $"tensor '{name}': missing or non-string 'dtype'");
        }
        string dtypeName = dtypeElement.GetString()!;
        if (!SafeTensors.TryParseDtype(dtypeName, out var dtype, out bool known))
        {
            if (known)
            {
                throw new NotSupportedException($"{path}: tensor '{name}' has dtype {dtypeName}, which this suite does not support");
            }
            throw Invalid(path, $"tensor '{name}': unknown dtype '{dtypeName}'");
        }
        long[] shape = ReadIntegers(path, name, value, "shape", expectedCount: null);
        long[] offsets = ReadIntegers(path, name, value, "data_offsets", expectedCount: 2);
        if (offsets[1] < offsets[0])
        {
            throw Invalid(path, $"tensor '{name}': data_offsets [{offsets[0]}, {offsets[1]}] end before they begin");
        }
        long expected;
        try
        {
            expected = checked(TensorData.CountElements(shape, name) * dtype.ElementSize());
        }
        catch (Exception e) when (e is OverflowException or ArgumentException)
        {
            throw Invalid(path, $"tensor '{name}': shape [{string.Join(", ", shape)}] is too large");
        }
        if (offsets[1] - offsets[0] != expected)
        {
            throw Invalid(path,
                $"tensor '{name}': data_offsets [{offsets[0]}, {offsets[1]}] hold {offsets[1] - offsets[0]} bytes but {dtypeName} [{string.Join(", ", shape)}] needs {expected}");
        }
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] ReadIntegers(string path, string name, JsonElement entry, string field, int? expectedCount)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(path, $"tensor '{name}': missing or non-array '{field}'");
        }
        int count = array.GetArrayLength();
        if (expectedCount is int n && count != n)
        {
            throw Invalid(path, $"tensor '{name}': '{field}' has {count} values, expected {n}");
        }
        var values = new long[count];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long value) || value < 0)
            {
                throw Invalid(path, $"tensor '{name}': '{field}' holds {item.GetRawText()}, not a non-negative integer");
            }
            values[i++] = value;
        }
        return values;
    }

    /// <summary>The tensors must tile the data buffer exactly: no byte outside a tensor, none in two.</summary>
    private static void CheckLayout(string path, List<Entry> entries, long dataLength)
    {
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long position = 0;
        Entry? previous = null;
        foreach (var entry in sorted)
        {
            if (entry.Begin < position)
            {
                throw Invalid(path, $"tensor '{entry.Name}': data_offsets [{entry.Begin}, {entry.End}] overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]");
            }
            if (entry.Begin > position)
            {
                throw Invalid(path, $"tensor '{entry.Name}': data_offsets begin at {entry.Begin}, leaving a hole after byte {position}");
            }
            if (entry.End > dataLength)
            {
                throw Invalid(path, $"tensor '{entry.Name}': data_offsets [{entry.Begin}, {entry.End}] run past the {dataLength}-byte data buffer (truncated file?)");
            }
            position = entry.End;
            previous = entry;
        }
        if (position != dataLength)
        {
            throw Invalid(path, $"tensors cover {position} bytes of a {dataLength}-byte data buffer (trailing bytes)");
        }
        entries.Clear();
        entries.AddRange(sorted);
    }

    private static InvalidDataException Invalid(string path, string message) => new($"{path}: invalid safetensors file: {message}");

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>One tensor's bytes inside the mapping, checked against disposal on every access.</summary>
    private sealed class MappedMemory(SafeTensorsFile file, long offset, int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan()
        {
            file.ThrowIfDisposed();
            return new Span<byte>(file._dataStart + offset, length);
        }

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            file.ThrowIfDisposed();
            return new MemoryHandle(file._dataStart + offset + elementIndex);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
