using VideoSSL.Torch.NN;
using VideoSSL.Torch.Optim;

namespace VideoSSL.Methods;

/// <summary>AdamW parameter groups as the official optim_factory / MAE's param_groups_lrd build them.</summary>
public static class ParamGroups
{
    /// <summary>Parameter names (last component) that never get weight decay, as the models' no_weight_decay().</summary>
    public static readonly IReadOnlySet<string> NoDecayNames = new HashSet<string>(StringComparer.Ordinal) { "pos_embed", "cls_token", "mask_token" };

    /// <summary>True for parameters without weight decay: 1-D (biases, norms, q_bias/v_bias), *.bias, and the tokens/tables above.</summary>
    public static bool IsNoDecay(string name, Parameter parameter)
    {
        var last = name[(name.LastIndexOf('.') + 1)..];
        return parameter.Shape.Length == 1 || name.EndsWith(".bias", StringComparison.Ordinal) || NoDecayNames.Contains(last);
    }

    /// <summary>Two groups, "decay" (weight decay wd) and "no_decay" (0); frozen parameters are left out.</summary>
    public static IReadOnlyList<ParamGroup> WeightDecaySplit(Module module, double weightDecay)
    {
        var decay = new List<Parameter>();
        var noDecay = new List<Parameter>();
        foreach (var (name, p) in module.NamedParameters())
        {
            if (!p.Value.RequiresGrad)
            {
                continue;
            }
            (IsNoDecay(name, p) ? noDecay : decay).Add(p);
        }
        return [new ParamGroup(decay, weightDecay, 1.0, "decay"), new ParamGroup(noDecay, 0, 1.0, "no_decay")];
    }

    /// <summary>
    /// Layer id for layer-wise lr decay: <c>patch_embed.*</c>, <c>pos_embed</c>, <c>cls_token</c>,
    /// <c>mask_token</c>, <c>time_embed</c> (TimeSformer) → 0; <c>blocks.i.*</c> → i + 1; everything else (final norms, head) → numLayers + 1.
    /// A leading <c>encoder.</c> / <c>backbone.</c> is ignored.
    /// </summary>
    public static int LayerId(string name, int numLayers)
    {
        foreach (var prefix in (string[])["encoder.", "backbone."])
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                name = name[prefix.Length..];
                break;
            }
        }
        if (name is "pos_embed" or "cls_token" or "mask_token" or "time_embed" || name.StartsWith("patch_embed.", StringComparison.Ordinal))
        {
            return 0;
        }
        if (name.StartsWith("blocks.", StringComparison.Ordinal))
        {
            var end = name.IndexOf('.', "blocks.".Length);
            var index = name["blocks.".Length..(end < 0 ? name.Length : end)];
            return int.Parse(index, System.Globalization.CultureInfo.InvariantCulture) + 1;
        }
        return numLayers + 1;
    }

    /// <summary>
    /// Fine-tuning groups with layer-wise lr decay: lr scale = decay^(numLayers + 1 − id), one group per
    /// (layer id, decay / no decay), ordered by layer id. Names read "layer_{id}_{decay|no_decay}".
    /// </summary>
    public static IReadOnlyList<ParamGroup> LayerDecay(Module module, int numLayers, double layerDecay, double weightDecay)
    {
        var groups = new SortedDictionary<(int Id, bool NoDecay), List<Parameter>>();
        foreach (var (name, p) in module.NamedParameters())
        {
            if (!p.Value.RequiresGrad)
            {
                continue;
            }
            var key = (LayerId(name, numLayers), IsNoDecay(name, p));
            if (!groups.TryGetValue(key, out var list))
            {
                list = [];
                groups[key] = list;
            }
            list.Add(p);
        }
        return groups.Select(g => new ParamGroup(
            g.Value,
            g.Key.NoDecay ? 0 : weightDecay,
            Math.Pow(layerDecay, numLayers + 1 - g.Key.Id),
            $"layer_{g.Key.Id}_{(g.Key.NoDecay ? "no_decay" : "decay")}")).ToList();
    }
}
