using System.Text.Json;
using VideoSSL.Torch;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>Features of N samples with their labels and video ids. Owns the tensor: dispose it.</summary>
public sealed class CachedFeatures : IDisposable
{
    public CachedFeatures(Tensor features, long[] labels, string[] videoIds, IReadOnlyDictionary<string, string> metadata)
    {
        Features = features;
        Labels = labels;
        VideoIds = videoIds;
        Metadata = metadata;
    }

    /// <summary>[N, ...] (e.g. [N, D] pooled, or [N, tokens, D]).</summary>
    public Tensor Features { get; }

    public long[] Labels { get; }

    public string[] VideoIds { get; }

    /// <summary>The caller's metadata (without the keys the cache uses itself).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public int Count => Labels.Length;

    public void Dispose() => Features.Dispose();
}

/// <summary>
/// Frozen-encoder features on disk, so probes can be refit without re-running the encoder. One safetensors file:
/// tensors <c>features</c> [N, ...] (dtype kept) and <c>labels</c> int64 [N]; the video ids are a JSON array in the
/// metadata key <c>video_ids</c>, next to any metadata the caller adds (encoder, checkpoint, split...).
/// </summary>
public static class FeatureCache
{
    public const string FeaturesKey = "features";
    public const string LabelsKey = "labels";
    public const string VideoIdsKey = "video_ids";

    public static void Write(string path, Tensor features, IReadOnlyList<long> labels, IReadOnlyList<string> videoIds, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (features.Dim < 1 || features.Size(0) != labels.Count || labels.Count != videoIds.Count)
        {
            throw new ArgumentException($"features [{string.Join(", ", features.Shape)}], {labels.Count} labels and {videoIds.Count} video ids must agree on N");
        }
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                if (key == VideoIdsKey)
                {
                    throw new ArgumentException($"metadata key '{VideoIdsKey}' is reserved for the video ids");
                }
                meta[key] = value;
            }
        }
        meta[VideoIdsKey] = JsonSerializer.Serialize(videoIds);
        using var scope = Torch.NewScope();
        var labelTensor = Tensor.From(labels.ToArray(), labels.Count);
        // Weights.Save copies each tensor's bytes row-major to the host, so a non-contiguous or device tensor is fine here.
        Weights.Save(path, [new(FeaturesKey, features.Contiguous()), new(LabelsKey, labelTensor)], meta);
    }

    public static CachedFeatures Read(string path, Device? device = null)
    {
        using var file = SafeTensors.Read(path);
        if (!file.Tensors.TryGetValue(FeaturesKey, out var featureData) || !file.Tensors.TryGetValue(LabelsKey, out var labelData))
        {
            throw new InvalidDataException($"{path}: not a feature cache (needs tensors '{FeaturesKey}' and '{LabelsKey}', has {string.Join(", ", file.Tensors.Keys)})");
        }
        if (labelData.Dtype != ScalarType.Int64 || labelData.Shape.Length != 1)
        {
            throw new InvalidDataException($"{path}: '{LabelsKey}' must be int64 [N], is {labelData.Dtype} [{string.Join(", ", labelData.Shape)}]");
        }
        var n = labelData.Shape[0];
        if (featureData.Shape.Length < 1 || featureData.Shape[0] != n)
        {
            throw new InvalidDataException($"{path}: '{FeaturesKey}' [{string.Join(", ", featureData.Shape)}] does not have N = {n} rows");
        }
        if (!file.Metadata.TryGetValue(VideoIdsKey, out var idsJson))
        {
            throw new InvalidDataException($"{path}: metadata key '{VideoIdsKey}' is missing");
        }
        string[] ids;
        try
        {
            ids = JsonSerializer.Deserialize<string[]>(idsJson) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: metadata '{VideoIdsKey}' is not a JSON array of strings: {e.Message}", e);
        }
        if (ids.Length != n)
        {
            throw new InvalidDataException($"{path}: {ids.Length} video ids for {n} rows");
        }
        var labels = new long[n];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(labelData.Data.Span).CopyTo(labels);
        var metadata = file.Metadata.Where(kv => kv.Key != VideoIdsKey).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var features = Weights.ToTensor(featureData, device).DetachFromScope();
        return new CachedFeatures(features, labels, ids, metadata);
    }
}
