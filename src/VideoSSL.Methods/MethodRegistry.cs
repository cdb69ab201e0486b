using VideoSSL.Models;

namespace VideoSSL.Methods;

/// <summary>
/// What a method needs to build its task: the resolved encoder, the run seed and its own config section
/// (looked up by type: <c>inputs.Section&lt;VJepaSettings&gt;()</c>; null when the config has none).
/// </summary>
public sealed record MethodInputs(string EncoderName, VideoViTConfig Encoder, long Seed, Func<Type, object?> Sections)
{
    public T? Section<T>()
        where T : class => Sections(typeof(T)) as T;
}

/// <summary>A pretraining method: its name, the encoder choices it implies, its section's defaults, and how it builds its task.</summary>
public sealed record PretrainMethod(
    string Name,
    string Summary,
    Func<VideoViTConfig, VideoViTConfig> EncoderDefaults,
    Func<MethodInputs, IPretrainTask> Create,
    object? DefaultSection = null);

/// <summary>
/// The pretraining methods by config name (<c>method</c>). Adding a method is one file with its task and
/// section plus one line here.
/// </summary>
public static class MethodRegistry
{
    private static readonly Dictionary<string, PretrainMethod> s_methods = new(StringComparer.Ordinal)
    {
        ["videomae"] = new("videomae", "VideoMAE: tube masking, pixel reconstruction", e => e,
            i => new VideoMAETask(i.Section<VideoMAEConfig>()! with { Encoder = i.Encoder }, i.Seed)),
        ["videomae_v2"] = new("videomae_v2", "VideoMAE V2: dual masking", e => e,
            i => new VideoMAETask(i.Section<VideoMAEConfig>()! with { Encoder = i.Encoder }, i.Seed)),
        ["vjepa"] = new("vjepa", "V-JEPA: latent prediction, multiblock masks, EMA target, 3-D sincos table", VJepaEncoder(PositionEmbedding.Sincos3d),
            i => new VJepaTask(i.Encoder, i.Section<VJepaSettings>() ?? new VJepaSettings(), v2: false, i.Seed), new VJepaSettings()),
        // vjepa2 configs/train/vitl16/pretrain-256px-16f.yaml: ema [0.99925, 0.99925], no grad clip.
        ["vjepa2"] = new("vjepa2", "V-JEPA 2: V-JEPA with 3-D RoPE", VJepaEncoder(PositionEmbedding.Rope3d),
            i => new VJepaTask(i.Encoder, i.Section<VJepaSettings>() ?? V2Defaults, v2: true, i.Seed), V2Defaults),
        ["svt"] = new("svt", "SVT: teacher-student distillation across global and local views, DINO head and loss, EMA teacher", e => e,
            i => new SvtTask(i.Encoder, i.Section<SvtSettings>() ?? new SvtSettings()), new SvtSettings()),
        // jepa's ViT, so that the benchmark's random twin of a supervised run is V-JEPA's.
        [SupervisedTask.MethodName] = new(SupervisedTask.MethodName, "supervised pretraining on the data's labels (a yardstick, not self-supervised): linear head on mean-pooled tokens, cross-entropy", VJepaEncoder(PositionEmbedding.Sincos3d),
            i => new SupervisedTask(i.Encoder, i.Section<SupervisedSettings>() ?? new SupervisedSettings()), new SupervisedSettings()),
    };

    public static VJepaSettings V2Defaults => new() { Ema = [0.99925, 0.99925], ClipGrad = 0 };

    public static IReadOnlyCollection<string> Names => s_methods.Keys;

    public static PretrainMethod Get(string name) =>
        s_methods.TryGetValue(name, out var method)
            ? method
            : throw new ArgumentException($"unknown method '{name}' ({string.Join(", ", s_methods.Keys)})", nameof(name));

    /// <summary>jepa's ViT: one qkv bias, trunc-normal init with block rescaling, LayerNorm eps 1e-6 (the vit_* factories).</summary>
    private static Func<VideoViTConfig, VideoViTConfig> VJepaEncoder(PositionEmbedding pos) =>
        e => e with { QkvBias = QkvBiasStyle.Qkv, PosEmbed = pos, Init = "jepa", LayerNormEps = 1e-6, UniformPower = true };
}
