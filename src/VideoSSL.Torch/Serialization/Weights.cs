using VideoSSL.Torch.NN;

namespace VideoSSL.Torch.Serialization;

/// <summary>Tensors to and from weight files: safetensors (read and written) and PyTorch .pt/.pth (read).</summary>
public static class Weights
{
    public static TensorData ToData(string name, Tensor tensor) =>
        new(name, tensor.Dtype, tensor.Shape, tensor.ToBytes());

    public static Tensor ToTensor(TensorData data, Device? device = null) =>
        Tensor.FromBytes(data.Data.Span, data.Dtype, data.Shape, device);

    /// <summary>Writes tensors (from any device) to a safetensors file atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafeTensors.Write(path, tensors.Select(kv => ToData(kv.Key, kv.Value)), metadata);

    /// <summary>
    /// Reads every tensor of a safetensors or PyTorch checkpoint file into new tensors owned by the caller.
    /// For .pt/.pth, the state_dict is found as <see cref="TorchCheckpoint.ReadStateDict"/> does.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path, Device? device = null, string? key = null, string? stripPrefix = null)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            if (IsSafeTensors(path))
            {
                using var file = SafeTensors.Read(path);
                foreach (var data in file.Tensors.Values)
                {
                    var name = stripPrefix is not null && data.Name.StartsWith(stripPrefix, StringComparison.Ordinal) ? data.Name[stripPrefix.Length..] : data.Name;
                    result[name] = ToTensor(data, device).DetachFromScope();
                }
            }
            else
            {
                foreach (var (name, data) in TorchCheckpoint.ReadStateDict(path, key, stripPrefix))
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
