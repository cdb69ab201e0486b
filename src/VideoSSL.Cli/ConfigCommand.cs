using System.CommandLine;
using VideoSSL.Training.Config;

namespace VideoSSL.Cli;

/// <summary>`videossl config show VERB [CONFIG]`: every key of a verb's config with its default, type, constraint and meaning.</summary>
internal static class ConfigCommand
{
    public static readonly IReadOnlyList<string> Verbs = ["pretrain", "probe", "finetune", "eval"];

    public static Command Create()
    {
        var verb = new Argument<string>("verb") { Description = $"whose config: {string.Join(", ", Verbs)}" };
        var config = new Argument<string?>("config") { Description = "a config file: show its resolved values (only the keys that apply)", Arity = ArgumentArity.ZeroOrOne };
        var set = new Option<string[]>("--set") { Description = "override a config key (repeatable), as the verb takes it", AllowMultipleArgumentsPerToken = false };
        var show = new Command("show", "Print every config key of a verb: default, type, allowed values, meaning; with CONFIG, its resolved values") { verb, config, set };
        show.SetAction(parse => CliErrors.Guard(() => Show(parse.GetValue(verb)!, parse.GetValue(config), parse.GetValue(set) ?? [], Console.Out)));
        return new Command("config", "Inspect configuration keys") { show };
    }

    /// <summary>Without a config: every key with default, type, constraint and meaning. With one: the keys that apply, resolved.</summary>
    internal static void Show(string verb, string? path, IReadOnlyList<string> sets, TextWriter output)
    {
        var defaults = Defaults(verb);
        if (path is null && sets.Count == 0)
        {
            output.WriteLine($"# videossl {verb}: key = default  (type; allowed values)  meaning");
            foreach (var entry in ConfigSchema.Walk(defaults))
            {
                var rule = entry.Rule;
                var constraint = rule?.Constraint is { Length: > 0 } c ? $"; {c}" : string.Empty;
                var when = Applicability(defaults, entry.Key) is { } w ? $" (only when {w})" : string.Empty;
                output.WriteLine($"{entry.Key} = {ConfigSchema.Show(entry.Value)}  ({ConfigSchema.TypeName(entry.Type)}{constraint})  {rule?.Description}{when}");
            }
            return;
        }
        object resolved = verb switch
        {
            "pretrain" => ConfigLoader.Load<PretrainConfig>(path, sets),
            "probe" => ConfigLoader.Load<ProbeConfig>(path, sets),
            "finetune" => ConfigLoader.Load<FinetuneConfig>(path, sets),
            _ => EvaluationCommands.LoadEvalConfig(path, [.. sets]),
        };
        var defaultValues = ConfigSchema.Walk(defaults).ToDictionary(e => e.Key, e => ConfigSchema.Show(e.Value));
        output.WriteLine($"# videossl {verb} {path}: the keys that apply, resolved  (default when it differs)");
        foreach (var entry in ConfigSchema.Walk(resolved).Where(e => e.Applies))
        {
            var value = ConfigSchema.Show(entry.Value);
            var note = defaultValues.TryGetValue(entry.Key, out var d) && d != value ? $"  (default {d})" : string.Empty;
            output.WriteLine($"{entry.Key} = {value}{note}");
        }
    }

    private static object Defaults(string verb) => verb switch
    {
        // The method sections are null until their method fills them; listed with defaults so every key is shown.
        "pretrain" => new PretrainConfig { Vjepa = new VideoSSL.Methods.VJepaSettings(), Svt = new VideoSSL.Methods.SvtSettings(), Supervised = new VideoSSL.Methods.SupervisedSettings() },
        "probe" => new ProbeConfig(),
        "finetune" => new FinetuneConfig(),
        "eval" => new EvalConfig(),
        _ => throw new ConfigException($"config show: unknown verb '{verb}' (one of {string.Join(", ", Verbs)})"),
    };

    // Every rule on the key's path that limits where it applies (a section's rule covers its keys), outermost first.
    private static string? Applicability(object root, string key)
    {
        var type = root.GetType();
        var conditions = new List<string>();
        foreach (var part in key.Split('.'))
        {
            var property = type.GetProperties().FirstOrDefault(p => ConfigLoader.ToSnake(p.Name) == part);
            if (property is null)
            {
                break;
            }
            if (ConfigSchema.Find(type, property.Name) is { AppliesWhen: { } when })
            {
                conditions.Add(when);
            }
            type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        }
        return conditions.Count == 0 ? null : string.Join(" and ", conditions);
    }
}
