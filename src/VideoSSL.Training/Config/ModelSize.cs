using VideoSSL.Models;

namespace VideoSSL.Training.Config;

/// <summary>
/// model.embed_dim / depth / num_heads / mlp_ratio on top of the registry entry model.encoder names (0 = the entry's),
/// so an encoder of any size (an official checkpoint the registry has no name for) can be built from a config.
/// </summary>
public static class ModelSize
{
    public static VideoViTConfig Apply(VideoViTConfig config, int embedDim, int depth, int numHeads, double mlpRatio) => config with
    {
        EmbedDim = embedDim > 0 ? embedDim : config.EmbedDim,
        Depth = depth > 0 ? depth : config.Depth,
        NumHeads = numHeads > 0 ? numHeads : config.NumHeads,
        MlpRatio = mlpRatio > 0 ? mlpRatio : config.MlpRatio,
    };
}
