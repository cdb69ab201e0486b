using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;

namespace VideoSSL.Training.Config;

/// <summary>A configuration problem, naming the key and where it came from.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string message)
        : base(message)
    {
    }

    public ConfigException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ConfigException()
    {
    }
}

/// <summary>
/// Binds a JSON config file plus `key.sub=value` overrides to a typed record with
/// Microsoft.Extensions.Configuration. Keys are snake_case in files (`base_lr`) and PascalCase in C#
/// (`BaseLr`); an unknown key or a value of the wrong type is an error that names the key and its source.
/// </summary>
public static class ConfigLoader
{
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static T Load<T>(string? path, IEnumerable<string> overrides)
        where T : new()
    {
        var source = new Dictionary<string, (string? Value, string Origin)>(StringComparer.OrdinalIgnoreCase);
        if (path is not null)
        {
            if (!File.Exists(path))
            {
                throw new ConfigException($"config file not found: {path}");
            }
            CheckJson(path);
            IConfigurationRoot fromFile;
            try
            {
                fromFile = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(path), optional: false).Build();
            }
            catch (Exception e) when (e is FormatException or InvalidDataException or JsonException)
            {
                throw new ConfigException($"{path}: not valid JSON: {e.InnerException?.Message ?? e.Message}", e);
            }
            foreach (var (key, value) in fromFile.AsEnumerable())
            {
                if (value is not null)
                {
                    source[key] = (value, path);
                }
            }
        }
        foreach (var entry in overrides)
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new ConfigException($"--set {entry}: expected key=value, e.g. train.lr=1e-4");
            }
            var key = entry[..equals].Trim().Replace('.', ':');
            var value = entry[(equals + 1)..].Trim();
            // A list given on the command line ("1,2,3" or "[1,2,3]") replaces the whole list.
            var listType = PropertyTypeAt(typeof(T), key.Split(':'));
            if (listType is not null && IsList(listType))
            {
                if (!IsLeaf(ElementType(listType)))
                {
                    var shown = entry[..equals].Trim();
                    throw new ConfigException($"--set {entry}: config key '{shown}' is a list of sections; set one key of an element, e.g. --set {shown}.0.<key>=<value>");
                }
                foreach (var stale in source.Keys.Where(k => k.StartsWith(key + ":", StringComparison.OrdinalIgnoreCase)).ToList())
                {
                    source.Remove(stale);
                }
                var items = value.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                for (var k = 0; k < items.Length; k++)
                {
                    source[$"{key}:{k}"] = (items[k], $"--set {entry}");
                }
                continue;
            }
            source[key] = (value, $"--set {entry}");
        }

        // Validate every key against the record tree first, so the error names the key as the user wrote it.
        var normalized = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var origins = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, (value, origin)) in source)
        {
            var parts = key.Split(':');
            var resolved = ResolveKey(typeof(T), parts, out var error);
            if (resolved is null)
            {
                throw new ConfigException($"{origin}: unknown config key '{string.Join('.', parts)}'{error}");
            }
            // The binder would silently drop a scalar given for a section ("train": 5) or a list ("betas": 0.9).
            var target = PropertyTypeAt(typeof(T), resolved.Split(':'));
            if (target is not null && !IsLeaf(target))
            {
                var shown = ToSnake(resolved);
                throw new ConfigException(IsList(target)
                    ? $"{origin}: config key '{shown}' is a list; got {(string.IsNullOrEmpty(value) ? "an empty one" : $"the single value '{value}'")} (write [a, b])"
                    : $"{origin}: config key '{shown}' is a section of keys; got the value '{value}' (write \"{shown.Split('.')[^1]}\": {{ ... }})");
            }
            // Enum values are written snake_case (random_resized); the binder parses names case-insensitively.
            var isEnum = value is not null && target is not null && (Nullable.GetUnderlyingType(target) ?? target).IsEnum;
            normalized[resolved] = isEnum ? value!.Replace("_", string.Empty, StringComparison.Ordinal) : value;
            origins[resolved] = origin;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(normalized).Build();
        var result = new T();
        try
        {
            configuration.Bind(result, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            // The key is in the outer message for a scalar, in an inner one for a list element ("at 'Train:Betas:1'"),
            // one level deeper for a list inside a list element (vjepa.masks.1.spatial_scale.1).
            var chain = new List<Exception>();
            for (Exception? x = e; x is not null; x = x.InnerException)
            {
                chain.Add(x);
            }
            var key = chain.Select(x => KeyIn(x.Message)).LastOrDefault(k => k is not null);
            var origin = key is not null && origins.TryGetValue(key, out var from) ? from : path ?? "config";
            var shown = key is null ? string.Empty : $" '{ToSnake(key)}'";
            var given = key is not null && normalized.TryGetValue(key, out var raw) ? $" '{raw}'" : string.Empty;
            var type = key is null ? null : PropertyTypeAt(typeof(T), key.Split(':'));
            throw new ConfigException($"{origin}: bad value{given} for config key{shown}: {WhyNot(type, chain[^1].Message)}", e);
        }
        FixAppendedLists(result, normalized);
        ConfigSchema.Validate(result, binderPath => origins.TryGetValue(binderPath, out var from) ? from : null);
        return result;
    }

    private static string? KeyIn(string? message)
    {
        if (message is null)
            return null;
        var at = message.IndexOf(" at '", StringComparison.Ordinal);
        var end = at >= 0 ? message.IndexOf('\'', at + 5) : -1;
        return end > at ? message[(at + 5)..end] : null;
    }

    // The binder's converter says "abc is not a valid value for Int32. (Parameter 'value')": .NET's type name and an
    // argument name the user never wrote; say what the key takes instead.
    private static string WhyNot(Type? target, string converterMessage)
    {
        var type = target is null ? null : Nullable.GetUnderlyingType(target) ?? target;
        if (type == typeof(int) || type == typeof(long))
            return "expected a whole number";
        if (type == typeof(double) || type == typeof(float))
            return "expected a number";
        if (type == typeof(bool))
            return "expected true or false";
        if (type is { IsEnum: true })
            return "expected one of " + string.Join(", ", Enum.GetNames(type).Select(ToSnake));
        return System.Text.RegularExpressions.Regex.Replace(converterMessage, @"\s*\(Parameter '[^']*'\)$", string.Empty);
    }

    // Configuration's own JSON error names neither line nor column of the file.
    private static void CheckJson(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException($"{path}: a config is a JSON object ({{ \"train\": {{ ... }} }}), not a {document.RootElement.ValueKind.ToString().ToLowerInvariant()}");
            }
        }
        catch (JsonException e)
        {
            var message = e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0];
            throw new ConfigException($"{path}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: not valid JSON: {message}", e);
        }
    }

    /// <summary>The resolved config as snake_case JSON (what is saved to a run directory).</summary>
    public static string ToJson<T>(T config) => JsonSerializer.Serialize(config, JsonOptions);

    /// <summary>
    /// The config as a run folder records it: only the keys that apply (no VideoMAE mask or decoder keys in a V-JEPA
    /// run, no data.synthetic.* for real data), so config.json says what ran and nothing else.
    /// </summary>
    public static string ToResolvedJson<T>(T config)
    {
        var root = JsonSerializer.SerializeToNode(config, JsonOptions)!.AsObject();
        foreach (var entry in ConfigSchema.Walk(config!).Where(e => !e.Applies))
        {
            var parts = entry.Key.Split('.');
            var node = root;
            foreach (var part in parts[..^1])
            {
                node = node?[part] as JsonObject;
            }
            node?.Remove(parts[^1]);
        }
        Prune(root);
        return root.ToJsonString(JsonOptions);

        static void Prune(JsonObject node)
        {
            foreach (var (key, child) in node.ToList())
            {
                if (child is JsonObject section)
                {
                    Prune(section);
                    if (section.Count == 0)
                    {
                        node.Remove(key);
                    }
                }
            }
        }
    }

    /// <summary>The config as dotted keys and values (for printing what a run resolved).</summary>
    /// <remarks>Keys that mean nothing for this config (mask.decoder_ratio of plain VideoMAE, data.synthetic.* of real data) are left out.</remarks>
    public static IEnumerable<string> Describe<T>(T config) =>
        ConfigSchema.Walk(config!).Where(e => e.Applies).Select(e => $"{e.Key} = {ConfigSchema.Show(e.Value)}");

    // Maps a snake_case key path to the binder's property path; null (with a suggestion) when unknown.
    private static string? ResolveKey(Type type, string[] parts, out string error)
    {
        error = string.Empty;
        var resolved = new List<string>();
        var current = type;
        foreach (var part in parts)
        {
            if (IsList(current))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    error = $" (a list takes indices, got '{part}')";
                    return null;
                }
                resolved.Add(part);
                current = ElementType(current);
                continue;
            }
            if (IsLeaf(current))
            {
                error = $" ('{string.Join('.', resolved)}' is a value, not a section)";
                return null;
            }
            var properties = current.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToList();
            var match = properties.FirstOrDefault(p => string.Equals(p.Name, ToPascal(part), StringComparison.OrdinalIgnoreCase));
            if (match is null)
            {
                var known = properties.Select(p => ToSnake(p.Name)).ToList();
                var closest = known.OrderBy(k => EditDistance(k, part)).FirstOrDefault();
                error = closest is not null && EditDistance(closest, part) <= Math.Max(2, part.Length / 3)
                    ? $" (did you mean '{string.Join('.', resolved.Select(ToSnake).Append(closest))}'?)"
                    : $" (known keys here: {string.Join(", ", known)})";
                return null;
            }
            resolved.Add(match.Name);
            current = match.PropertyType;
        }
        return string.Join(':', resolved);
    }

    // Walks list indices too: without them `--set vjepa.masks.1.spatial_scale=[0.5,0.5]` found no type, skipped the list
    // handling, and the binder dropped the value without a word.
    private static Type? PropertyTypeAt(Type type, string[] parts)
    {
        var current = type;
        foreach (var part in parts)
        {
            if (IsList(current))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    return null;
                }
                current = ElementType(current);
                continue;
            }
            var match = current.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .FirstOrDefault(p => string.Equals(p.Name, ToPascal(part), StringComparison.OrdinalIgnoreCase));
            if (match is null)
            {
                return null;
            }
            current = match.PropertyType;
        }
        return current;
    }

    // The binder APPENDS a bound list to a non-empty default list; the user's list must replace it instead.
    private static void FixAppendedLists(object root, Dictionary<string, string?> keys)
    {
        var listPaths = keys.Keys
            .Select(k => k.Split(':'))
            .Select(parts => (Parts: parts, Index: Array.FindLastIndex(parts, p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _))))
            .Where(x => x.Index > 0)
            .GroupBy(x => string.Join(':', x.Parts[..x.Index]), StringComparer.OrdinalIgnoreCase);
        foreach (var group in listPaths)
        {
            var count = group.Select(x => x.Parts[x.Index]).Distinct().Count();
            var path = group.Key.Split(':');
            object? owner = root;
            for (var k = 0; k < path.Length - 1 && owner is not null; k++)
            {
                owner = owner.GetType().GetProperty(path[k], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)?.GetValue(owner);
            }
            var property = owner?.GetType().GetProperty(path[^1], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property?.GetValue(owner) is Array array && array.Length > count)
            {
                var trimmed = Array.CreateInstance(array.GetType().GetElementType()!, count);
                Array.Copy(array, array.Length - count, trimmed, 0, count);
                property.SetValue(owner, trimmed);
            }
        }
    }

    private static bool IsList(Type type) => type.IsArray || (type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type) && type.IsGenericType);

    private static Type ElementType(Type type) => type.IsArray ? type.GetElementType()! : type.GetGenericArguments()[0];

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || Nullable.GetUnderlyingType(type) is not null;

    private static string ToPascal(string snake) => snake.Replace("_", string.Empty, StringComparison.Ordinal);

    public static string ToSnake(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name.Replace(":", ".", StringComparison.Ordinal)).Replace("._", ".", StringComparison.Ordinal);

    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
        }
        return d[a.Length, b.Length];
    }
}
