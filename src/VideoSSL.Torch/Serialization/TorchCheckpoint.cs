using System.IO.Compression;
using System.Text;

namespace VideoSSL.Torch.Serialization;

/// <summary>
/// Reads PyTorch checkpoints in the zip format torch.save writes since 1.6: <c>&lt;prefix&gt;/data.pkl</c> (the object
/// tree, pickled) and <c>&lt;prefix&gt;/data/&lt;key&gt;</c> (raw little-endian storages). Tensors come back as
/// contiguous <see cref="TensorData"/>; views are materialised, and contiguous views share their storage's bytes.
/// </summary>
public static class TorchCheckpoint
{
    /// <summary>
    /// Where <see cref="ReadStateDict"/> looks for weights, in order, when the top level is not a state_dict itself.
    /// target_encoder precedes encoder because V-JEPA evaluations use the EMA encoder; teacher is SVT's (and DINO's)
    /// EMA network, which their evaluations read (checkpoint_key "teacher").
    /// </summary>
    public static IReadOnlyList<string> StateDictKeys { get; } =
        ["state_dict", "model", "module", "target_encoder", "teacher", "encoder", "model_state", "model_state_dict", "net", "network"];

    /// <summary>
    /// The whole object tree: null, bool, long, double, string, byte[], object?[] (tuples), List&lt;object?&gt;,
    /// OrderedDictionary&lt;object, object?&gt;, <see cref="PickleObject"/> for other classes (argparse.Namespace...)
    /// and <see cref="TensorData"/> named by their path in the tree ("model.blocks.0.attn.qkv.weight").
    /// </summary>
    public static object? Read(string path)
    {
        using var archive = new CheckpointArchive(path);
        var root = archive.LoadTree();
        return archive.Resolve(root, "", new HashSet<object>(ReferenceEqualityComparer.Instance), 0);
    }

    /// <summary>
    /// The weights as name → tensor, in the checkpoint's order. The state_dict is the top level, the entry
    /// <paramref name="key"/>, or the first of <see cref="StateDictKeys"/> that holds only tensors. Names lose a
    /// leading <c>module.backbone.</c> or <c>module.</c> (DistributedDataParallel), then <paramref name="stripPrefix"/>
    /// where they have it (names without it are kept). Only the chosen tensors' storages are read.
    /// </summary>
    /// <param name="maxElements">Refuse, before reading its bytes, any tensor with more elements (a bound the caller's model sets).</param>
    public static OrderedDictionary<string, TensorData> ReadStateDict(string path, string? key = null, string? stripPrefix = null, long maxElements = long.MaxValue)
    {
        using var archive = new CheckpointArchive(path);
        var root = archive.LoadTree();
        var stateDict = FindStateDict(path, root, key);
        if (stripPrefix is { Length: > 0 } && !stripPrefix.EndsWith('.'))
        {
            stripPrefix += ".";
        }

        var result = new OrderedDictionary<string, TensorData>(stateDict.Count);
        foreach (var (rawKey, value) in stateDict)
        {
            string original = (string)rawKey;
            string name = StripPrefix(original, "module.backbone.") ?? StripPrefix(original, "module.") ?? original;
            if (stripPrefix is { Length: > 0 })
            {
                name = StripPrefix(name, stripPrefix) ?? name;
            }
            var tensor = (TensorRef)value!;
            Weights.CheckSize(path, original, tensor.Size, maxElements);
            if (!result.TryAdd(name, archive.Materialize(tensor, name)))
            {
                throw new InvalidDataException($"{path}: '{original}' becomes '{name}' after removing prefixes, a name already taken");
            }
        }
        return result;
    }

    private static string? StripPrefix(string name, string? prefix) =>
        prefix is { Length: > 0 } && name.StartsWith(prefix, StringComparison.Ordinal) && name.Length > prefix.Length
            ? name[prefix.Length..]
            : null;

    private static OrderedDictionary<object, object?> FindStateDict(string path, object? root, string? key)
    {
        if (root is not OrderedDictionary<object, object?> top)
        {
            throw new InvalidDataException($"{path}: the checkpoint holds a {Describe(root)}, not a dictionary of weights");
        }
        string available = string.Join(", ", top.Keys.Select(k => $"'{k}'"));
        if (key is not null)
        {
            if (!top.TryGetValue(key, out var chosen))
            {
                throw new KeyNotFoundException($"{path}: no entry '{key}' at the top level (entries: {available})");
            }
            return IsStateDict(chosen)
                ? (OrderedDictionary<object, object?>)chosen!
                : throw new InvalidDataException($"{path}: entry '{key}' is not a dictionary of tensors{WhyNot(chosen)}");
        }
        if (IsStateDict(top))
        {
            return top;
        }
        foreach (string candidate in StateDictKeys)
        {
            if (top.TryGetValue(candidate, out var value) && IsStateDict(value))
            {
                return (OrderedDictionary<object, object?>)value!;
            }
        }
        throw new InvalidDataException(
            $"{path}: no state_dict found at the top level or under {string.Join("/", StateDictKeys)}; entries are {available}: name one as the key");
    }

    private static bool IsStateDict(object? value) =>
        value is OrderedDictionary<object, object?> { Count: > 0 } dict && dict.All(p => p.Key is string && p.Value is TensorRef);

    private static string WhyNot(object? value)
    {
        if (value is OrderedDictionary<object, object?> dict)
        {
            var odd = dict.FirstOrDefault(p => p.Key is not string || p.Value is not TensorRef);
            return odd.Key is null ? " (it is empty)" : $" ('{odd.Key}' holds {Describe(odd.Value)})";
        }
        return $" (it is a {Describe(value)})";
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        PickleObject obj => obj.Type.FullName,
        TensorRef => "tensor",
        _ => value.GetType().Name,
    };

    private sealed record StorageRef(string Key, string TypeName, ScalarType? Dtype, long Numel);

    /// <summary>A tensor as pickled: a view into a storage, read only when asked for.</summary>
    private sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

    private sealed class CheckpointArchive : IDisposable
    {
        private readonly string _path;
        private readonly ZipArchive _zip;
        private readonly string _prefix;
        private readonly Dictionary<string, byte[]> _storages = [];

        public CheckpointArchive(string path)
        {
            _path = path;
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            try
            {
                Span<byte> magic = stackalloc byte[4];
                int count = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
                if (count < 4 || magic[0] != (byte)'P' || magic[1] != (byte)'K' || magic[2] != 3 || magic[3] != 4)
                {
                    throw new InvalidDataException(count >= 2 && magic[0] == 0x80
                        ? $"{path}: legacy (pre-1.6, non-zip) PyTorch checkpoint; re-save it with torch >= 1.6: torch.save(torch.load(path), new_path)"
                        : $"{path}: not a PyTorch checkpoint (no zip signature)");
                }
                stream.Position = 0;
                _zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
            {
                stream.Dispose();
                throw new InvalidDataException($"{path}: damaged zip archive ({e.Message})", e);
            }
            catch
            {
                stream.Dispose();
                throw;
            }

            var pickle = _zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                && e.FullName.IndexOf('/', StringComparison.Ordinal) == e.FullName.Length - "/data.pkl".Length);
            if (pickle is null)
            {
                _zip.Dispose();
                throw new InvalidDataException($"{path}: zip archive without <prefix>/data.pkl; not written by torch.save");
            }
            _prefix = pickle.FullName[..^"/data.pkl".Length];
        }

        public void Dispose() => _zip.Dispose();

        public object? LoadTree()
        {
            var byteOrder = _zip.GetEntry($"{_prefix}/byteorder");
            if (byteOrder is not null && Encoding.ASCII.GetString(ReadEntry(byteOrder, long.MaxValue)).Trim() != "little")
            {
                throw new NotSupportedException($"{_path}: storages were saved big-endian");
            }
            var pickle = _zip.GetEntry($"{_prefix}/data.pkl")!;
            return new TorchUnpickler(ReadEntry(pickle, long.MaxValue), $"{_path}: {pickle.FullName}").Load();
        }

        /// <summary>Replaces tensors in the tree (in place) by their data, naming each by its path.</summary>
        public object? Resolve(object? node, string name, HashSet<object> visited, int depth)
        {
            if (node is TensorRef tensor)
            {
                return Materialize(tensor, name);
            }
            // Containers filled after being nested can escape the unpickler's depth count; bound the walk itself.
            if (depth > PickleReader.MaxDepth)
            {
                throw new InvalidDataException($"{_path}: objects nested more than {PickleReader.MaxDepth} deep at '{name[..Math.Min(name.Length, 80)]}...'; not a checkpoint written by torch.save");
            }
            if (node is null || node is string || !visited.Add(node))
            {
                return node;
            }
            switch (node)
            {
                case OrderedDictionary<object, object?> dict:
                    for (int i = 0; i < dict.Count; i++)
                    {
                        var (key, value) = dict.GetAt(i);
                        dict.SetAt(i, Resolve(value, Join(name, key), visited, depth + 1));
                    }
                    break;
                case List<object?> list:
                    for (int i = 0; i < list.Count; i++)
                    {
                        list[i] = Resolve(list[i], Join(name, i), visited, depth + 1);
                    }
                    break;
                case object?[] tuple:
                    for (int i = 0; i < tuple.Length; i++)
                    {
                        tuple[i] = Resolve(tuple[i], Join(name, i), visited, depth + 1);
                    }
                    break;
                case PickleObject obj:
                    Resolve(obj.Args, name, visited, depth + 1);
                    obj.State = Resolve(obj.State, name, visited, depth + 1);
                    Resolve(obj.Items, name, visited, depth + 1);
                    Resolve(obj.ListItems, name, visited, depth + 1);
                    break;
            }
            return node;
        }

        public TensorData Materialize(TensorRef tensor, string name)
        {
            var storage = tensor.Storage;
            var dtype = storage.Dtype
                ?? throw new NotSupportedException($"{_path}: tensor '{name}' is stored as {storage.TypeName}, which is not supported");
            int elementSize = dtype.ElementSize();
            long[] size = tensor.Size;
            long[] stride = tensor.Stride;
            if (stride.Length != size.Length)
            {
                throw new InvalidDataException($"{_path}: tensor '{name}' has {size.Length} sizes but {stride.Length} strides");
            }
            long numel;
            try
            {
                numel = TensorData.CountElements(size, name);
            }
            catch (Exception e) when (e is OverflowException or ArgumentException)
            {
                throw new InvalidDataException($"{_path}: tensor '{name}' has an impossible size [{string.Join(", ", size)}]", e);
            }
            if (numel == 0)
            {
                return new TensorData(name, dtype, size, ReadOnlyMemory<byte>.Empty);
            }
            // A torch.save'd tensor never holds more elements than its storage; a view that repeats elements (stride 0)
            // would make a few hundred bytes of file allocate gigabytes, so it is refused before anything is read.
            if (storage.Numel < 0 || numel > storage.Numel || storage.Numel > Array.MaxLength / elementSize)
            {
                throw new InvalidDataException(
                    $"{_path}: tensor '{name}' claims {numel} elements (size [{string.Join(", ", size)}]) of a storage '{storage.Key}' holding {storage.Numel}; not a checkpoint written by torch.save");
            }

            long last = tensor.Offset;
            for (int d = 0; d < size.Length; d++)
            {
                if (stride[d] < 0)
                {
                    throw new InvalidDataException($"{_path}: tensor '{name}' has a negative stride");
                }
                // Both factors are bounded by the storage (checked above) only after this check, so guard the product.
                if (stride[d] > storage.Numel)
                {
                    throw new InvalidDataException($"{_path}: tensor '{name}' has stride {stride[d]} beyond its storage of {storage.Numel} elements");
                }
                try
                {
                    last = checked(last + ((size[d] - 1) * stride[d]));
                }
                catch (OverflowException)
                {
                    last = long.MaxValue;
                    break;
                }
            }
            if (tensor.Offset < 0 || last >= storage.Numel)
            {
                throw new InvalidDataException(
                    $"{_path}: tensor '{name}' (offset {tensor.Offset}, size [{string.Join(", ", size)}], stride [{string.Join(", ", stride)}]) reaches element {last} of storage '{storage.Key}', which holds {storage.Numel}");
            }

            byte[] bytes = LoadStorage(storage, name, elementSize);
            if (IsContiguous(size, stride))
            {
                return new TensorData(name, dtype, size, bytes.AsMemory((int)(tensor.Offset * elementSize), (int)(numel * elementSize)));
            }
            return new TensorData(name, dtype, size, CopyStrided(bytes, elementSize, tensor.Offset, size, stride, numel));
        }

        private byte[] LoadStorage(StorageRef storage, string tensorName, int elementSize)
        {
            if (_storages.TryGetValue(storage.Key, out var cached))
            {
                return cached;
            }
            string entryName = $"{_prefix}/data/{storage.Key}";
            var entry = _zip.GetEntry(entryName)
                ?? throw new InvalidDataException($"{_path}: tensor '{tensorName}' needs storage {entryName}, which the archive lacks");
            long needed = storage.Numel * elementSize;
            if (entry.Length < needed)
            {
                throw new InvalidDataException($"{_path}: {entryName} has {entry.Length} bytes but {storage.Numel} {storage.TypeName} elements need {needed}");
            }
            if (entry.Length > Array.MaxLength)
            {
                throw new NotSupportedException($"{_path}: tensor '{tensorName}': storage {entryName} is over 2 GiB");
            }
            var bytes = ReadEntry(entry, entry.Length);
            _storages[storage.Key] = bytes;
            return bytes;
        }

        private byte[] ReadEntry(ZipArchiveEntry entry, long limit)
        {
            if (entry.Length > Math.Min(limit, Array.MaxLength))
            {
                throw new NotSupportedException($"{_path}: {entry.FullName} is too large ({entry.Length} bytes)");
            }
            var bytes = new byte[entry.Length];
            using var stream = entry.Open();
            try
            {
                stream.ReadExactly(bytes);
            }
            catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
            {
                throw new InvalidDataException($"{_path}: {entry.FullName} is damaged or truncated ({e.Message})", e);
            }
            return bytes;
        }

        private static bool IsContiguous(long[] size, long[] stride)
        {
            long expected = 1;
            for (int d = size.Length - 1; d >= 0; d--)
            {
                if (size[d] != 1 && stride[d] != expected)
                {
                    return false;
                }
                expected *= size[d];
            }
            return true;
        }

        /// <summary>A row-major copy of a strided view (transposes, slices, expands), run by run along the last dimension.</summary>
        private static byte[] CopyStrided(byte[] source, int elementSize, long offset, long[] size, long[] stride, long numel)
        {
            var result = new byte[numel * elementSize];
            int rank = size.Length;
            long run = size[rank - 1];
            long runStride = stride[rank - 1];
            var index = new long[rank - 1];
            long written = 0;
            for (long r = 0; r < numel / run; r++)
            {
                long start = offset;
                for (int d = 0; d < rank - 1; d++)
                {
                    start += index[d] * stride[d];
                }
                if (runStride == 1)
                {
                    Array.Copy(source, start * elementSize, result, written, run * elementSize);
                    written += run * elementSize;
                }
                else
                {
                    for (long j = 0; j < run; j++)
                    {
                        Array.Copy(source, (start + j * runStride) * elementSize, result, written, elementSize);
                        written += elementSize;
                    }
                }
                for (int d = rank - 2; d >= 0; d--)
                {
                    if (++index[d] < size[d])
                    {
                        break;
                    }
                    index[d] = 0;
                }
            }
            return result;
        }

        private static string Join(string prefix, object key) => prefix.Length == 0 ? $"{key}" : $"{prefix}.{key}";
    }

    /// <summary>Knows torch's storages (persistent ids) and tensor rebuild functions.</summary>
    private sealed class TorchUnpickler(byte[] data, string source) : PickleReader(data, source)
    {
        private readonly Dictionary<string, StorageRef> _storages = [];

        protected override object? PersistentLoad(object? pid)
        {
            // ('storage', torch.FloatStorage, key, location, numel); torch 2 writes the same, with
            // torch.UntypedStorage (numel in bytes) only for storages saved on their own.
            if (pid is not object?[] { Length: >= 5 } tuple || tuple[0] is not "storage" || tuple[1] is not PickleGlobal type
                || tuple[2] is not string key || tuple[4] is not long numel)
            {
                throw new InvalidDataException($"{Source}: unexpected persistent id; not a torch.save storage");
            }
            if (!_storages.TryGetValue(key, out var storage))
            {
                storage = new StorageRef(key, type.FullName, StorageDtype(type), numel);
                _storages[key] = storage;
            }
            return storage;
        }

        protected override object? Call(PickleGlobal callable, object?[] args)
        {
            switch (callable.FullName)
            {
                case "torch._utils._rebuild_tensor_v2": // (storage, offset, size, stride, requires_grad, hooks[, metadata])
                case "torch._utils._rebuild_tensor": // (storage, offset, size, stride)
                    if (args.Length >= 4 && args[0] is StorageRef storage && args[1] is long offset)
                    {
                        return new TensorRef(storage, offset, Longs(args[2]), Longs(args[3]));
                    }
                    throw new InvalidDataException($"{Source}: {callable.FullName} with unexpected arguments");
                case "torch._utils._rebuild_parameter": // (data, requires_grad, hooks)
                case "torch._utils._rebuild_parameter_with_state":
                    return args.Length > 0 ? args[0] : null;
                case "torch._tensor._rebuild_from_type_v2": // (func, type, args, state): a tensor subclass
                case "torch._tensor._rebuild_from_type":
                    return args.Length >= 3 && args[0] is PickleGlobal func && args[2] is object?[] funcArgs
                        ? Call(func, funcArgs)
                        : new PickleObject(callable, args);
                default:
                    return base.Call(callable, args);
            }
        }

        private long[] Longs(object? value) => value is object?[] items && items.All(i => i is long)
            ? items.Select(i => (long)i!).ToArray()
            : throw new InvalidDataException($"{Source}: tensor size or stride is not a tuple of ints");

        private static ScalarType? StorageDtype(PickleGlobal type) => type.Name switch
        {
            "FloatStorage" => ScalarType.Float32,
            "DoubleStorage" => ScalarType.Float64,
            "HalfStorage" => ScalarType.Float16,
            "BFloat16Storage" => ScalarType.BFloat16,
            "LongStorage" => ScalarType.Int64,
            "IntStorage" => ScalarType.Int32,
            "ShortStorage" => ScalarType.Int16,
            "CharStorage" => ScalarType.Int8,
            "ByteStorage" or "UntypedStorage" => ScalarType.UInt8,
            "BoolStorage" => ScalarType.Bool,
            _ => null,
        };
    }
}
