using VideoSSL.Torch.NN;

namespace VideoSSL.Torch.Serialization;

/// <summary>Tensors to and from weight files: safetensors (read and written) and PyTorch .pt/.pth (read).</summary>
public static class Weights
{
    public static Tensor ToTensor(TensorData data, Device? device = null) =>
        Tensor.FromBytes(data.Data.Span, data.Dtype, data.Shape, device);

    /// <summary>
    /// Writes tensors (from any device) to a safetensors file atomically. Each tensor is copied to the host through
    /// one pooled buffer just before its bytes are written, so a save holds one tensor's bytes in managed memory, not
    /// the whole checkpoint (weights plus AdamW moments, gigabytes for ViT-g), and leaves no garbage behind: copying
    /// everything first grew a CPU pretraining's resident memory by about the checkpoint's size at every save.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = tensors.Select(kv => new SafeTensors.Entry(kv.Key, kv.Value.Dtype, kv.Value.Shape, kv.Value.Numel * kv.Value.Dtype.ElementSize(),
            stream => WriteBytes(stream, kv.Value))).ToList();
        SafeTensors.Write(path, entries, metadata);
    }

    private static void WriteBytes(Stream stream, Tensor tensor)
    {
        var bytes = tensor.Numel * tensor.Dtype.ElementSize();
        if (bytes > Array.MaxLength)
        {
            throw new NotSupportedException($"a tensor of {bytes} bytes is larger than one .NET array can hold");
        }
        var length = (int)bytes;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            tensor.CopyTo<byte>(buffer.AsSpan(0, length));
            stream.Write(buffer, 0, length);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads every tensor of a safetensors or PyTorch checkpoint file into new tensors owned by the caller.
    /// For .pt/.pth, the state_dict is found as <see cref="TorchCheckpoint.ReadStateDict"/> does.
    /// </summary>
    /// <param name="maxElements">Refuse any tensor with more elements before copying it (see <see cref="MaxElementsFor"/>).</param>
    public static Dictionary<string, Tensor> Load(string path, Device? device = null, string? key = null, string? stripPrefix = null, long maxElements = long.MaxValue)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            if (IsSafeTensors(path))
            {
                using var file = SafeTensors.Read(path);
                foreach (var data in file.Tensors.Values)
                {
                    CheckSize(path, data.Name, data.Shape, maxElements);
                    var name = stripPrefix is not null && data.Name.StartsWith(stripPrefix, StringComparison.Ordinal) ? data.Name[stripPrefix.Length..] : data.Name;
                    result[name] = ToTensor(data, device).DetachFromScope();
                }
            }
            else
            {
                foreach (var (name, data) in TorchCheckpoint.ReadStateDict(path, key, stripPrefix, maxElements))
                {
                    result[name] = ToTensor(data, device).DetachFromScope();
                }
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values)
            {
                t.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// A bound for <see cref="Load"/> when loading into <paramref name="module"/>: 4 x its largest tensor (room for
    /// buffers such as a learnt position table a little bigger than any weight), so a crafted file cannot make a load
    /// allocate gigabytes for a small model.
    /// </summary>
    public static long MaxElementsFor(Module module)
    {
        long largest = 0;
        foreach (var tensor in module.StateDict().Values)
        {
            largest = Math.Max(largest, tensor.Numel);
        }
        return Math.Max(1L << 20, 4 * largest);
    }

    internal static void CheckSize(string path, string name, long[] shape, long maxElements)
    {
        if (maxElements == long.MaxValue)
        {
            return;
        }
        long numel = 1;
        foreach (long dim in shape)
        {
            numel = dim < 0 || (dim > 0 && numel > maxElements / dim) ? long.MaxValue : numel * dim;
        }
        if (numel > maxElements)
        {
            throw new InvalidDataException(
                $"{path}: tensor '{name}' [{string.Join(", ", shape)}] is far larger than any tensor of the model it is loaded into (at most {maxElements} elements): a checkpoint of another model size, or a damaged file");
        }
    }

    public static Dictionary<string, string> ReadMetadata(string path)
    {
        using var file = SafeTensors.Read(path);
        return new Dictionary<string, string>(file.Metadata, StringComparer.Ordinal);
    }

    /// <summary>Loads a weight file into a module (strict: every name must match; see <see cref="Module.LoadStateDict"/>).</summary>
    public static StateDictReport LoadInto(Module module, string path, bool strict = true, string? key = null, string? stripPrefix = null)
    {
        var device = module.Parameters().FirstOrDefault()?.Value.Device;
        var state = Load(path, device, key, stripPrefix);
        try
        {
            return module.LoadStateDict(state, strict);
        }
        catch (StateDictMismatchException e)
        {
            throw new StateDictMismatchException(e.Report, path);
        }
        finally
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
        }
    }

    private static bool IsSafeTensors(string path)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        // A .pt/.pth file is a zip ("PK"); anything else is tried as safetensors so its validation names the problem.
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        return stream.Read(magic) < 2 || magic[0] != (byte)'P' || magic[1] != (byte)'K';
    }
}
