namespace VideoSSL.Torch.NN;

/// <summary>A trainable tensor owned by a module. Kept out of dispose scopes; the module disposes it.</summary>
public sealed class Parameter
{
    public Parameter(Tensor value)
    {
        Value = value;
    }

    public Tensor Value { get; internal set; }

    public static implicit operator Tensor(Parameter parameter) => parameter.Value;

    public long[] Shape => Value.Shape;

    public long Numel => Value.Numel;
}

/// <summary>
/// Base of every layer and model. Children, parameters and buffers are registered by name in construction
/// order, so <see cref="StateDict"/> names are exactly PyTorch's (<c>blocks.0.attn.qkv.weight</c>) and
/// official checkpoints load without renaming.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<KeyValuePair<string, Parameter>> _parameters = [];
    private readonly List<KeyValuePair<string, Tensor>> _buffers = [];
    private readonly HashSet<string> _nonPersistent = [];
    private readonly List<KeyValuePair<string, Module>> _children = [];

    public bool Training { get; private set; } = true;

    protected T Child<T>(string name, T module)
        where T : Module
    {
        _children.Add(new(name, module));
        return module;
    }

    /// <summary>Registers a parameter; the tensor becomes a leaf that requires grad and is owned by this module.</summary>
    protected Parameter Param(string name, Tensor value, bool requiresGrad = true)
    {
        value.DetachFromScope();
        if (value.RequiresGrad != requiresGrad)
        {
            value.RequiresGrad = requiresGrad;
        }
        var parameter = new Parameter(value);
        _parameters.Add(new(name, parameter));
        return parameter;
    }

    /// <summary>Registers state that is not trained (running statistics, fixed tables). Non-persistent buffers are not saved.</summary>
    protected Tensor Buffer(string name, Tensor value, bool persistent = true)
    {
        value.DetachFromScope();
        _buffers.Add(new(name, value));
        if (!persistent)
        {
            _nonPersistent.Add(name);
        }
        return value;
    }

    /// <summary>Replaces a registered buffer's tensor (e.g. a position table rebuilt for a new size).</summary>
    protected void ReplaceBuffer(string name, Tensor value)
    {
        var index = _buffers.FindIndex(b => b.Key == name);
        if (index < 0)
        {
            throw new KeyNotFoundException($"no buffer named '{name}'");
        }
        value.DetachFromScope();
        _buffers[index].Value.Dispose();
        _buffers[index] = new(name, value);
    }

    public IEnumerable<KeyValuePair<string, Module>> NamedChildren() => _children;

    public IEnumerable<KeyValuePair<string, Module>> NamedModules(string prefix = "")
    {
        yield return new(prefix, this);
        foreach (var (name, child) in _children)
        {
            foreach (var entry in child.NamedModules(Join(prefix, name)))
            {
                yield return entry;
            }
        }
    }

    public IEnumerable<KeyValuePair<string, Parameter>> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _parameters)
        {
            yield return new(Join(prefix, name), p);
        }
        foreach (var (name, child) in _children)
        {
            foreach (var entry in child.NamedParameters(Join(prefix, name)))
            {
                yield return entry;
            }
        }
    }

    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Value);

    public IEnumerable<KeyValuePair<string, Tensor>> NamedBuffers(string prefix = "", bool persistentOnly = false)
    {
        foreach (var (name, b) in _buffers)
        {
            if (!persistentOnly || !_nonPersistent.Contains(name))
            {
                yield return new(Join(prefix, name), b);
            }
        }
        foreach (var (name, child) in _children)
        {
            foreach (var entry in child.NamedBuffers(Join(prefix, name), persistentOnly))
            {
                yield return entry;
            }
        }
    }

    public long ParameterCount(bool trainableOnly = false) =>
        Parameters().Where(p => !trainableOnly || p.Value.RequiresGrad).Sum(p => p.Numel);

    /// <summary>Parameters and persistent buffers by PyTorch name. The tensors are the module's own: do not dispose them.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in NamedParameters())
        {
            state[name] = p.Value;
        }
        foreach (var (name, b) in NamedBuffers(persistentOnly: true))
        {
            state[name] = b;
        }
        return state;
    }

    /// <summary>
    /// Copies values into this module's parameters and buffers. Strict mode throws a
    /// <see cref="StateDictMismatchException"/> listing missing, unexpected and shape-mismatched names;
    /// non-strict mode loads what matches and returns the same report.
    /// </summary>
    public StateDictReport LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = StateDict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var mismatched = new List<string>();
        foreach (var (name, target) in own)
        {
            if (state.TryGetValue(name, out var source) && !source.Shape.SequenceEqual(target.Shape))
            {
                mismatched.Add($"{name}: checkpoint [{string.Join(", ", source.Shape)}] vs model [{string.Join(", ", target.Shape)}]");
            }
        }
        var report = new StateDictReport(missing, unexpected, mismatched);
        if (strict && !report.IsExact)
        {
            throw new StateDictMismatchException(report);
        }
        using (Torch.NoGrad())
        {
            foreach (var (name, target) in own)
            {
                if (state.TryGetValue(name, out var source) && source.Shape.SequenceEqual(target.Shape))
                {
                    target.Copy_(source);
                }
            }
        }
        return report;
    }

    public void Train(bool training = true)
    {
        foreach (var (_, module) in NamedModules())
        {
            module.Training = training;
        }
    }

    public void Eval() => Train(false);

    /// <summary>Moves parameters and buffers to a device (and optionally a floating dtype) in place.</summary>
    public void To(Device device, ScalarType? dtype = null)
    {
        foreach (var (_, module) in NamedModules())
        {
            module.MoveOwn(device, dtype);
        }
    }

    private void MoveOwn(Device device, ScalarType? dtype)
    {
        using var noGrad = Torch.NoGrad();
        foreach (var (_, p) in _parameters)
        {
            var old = p.Value;
            var targetType = dtype is { } d && old.Dtype.IsFloatingPoint() ? d : old.Dtype;
            var moved = old.To(device, targetType).DetachFromScope();
            moved.RequiresGrad = old.RequiresGrad;
            p.Value = moved;
            old.Dispose();
        }
        for (var k = 0; k < _buffers.Count; k++)
        {
            var (name, old) = _buffers[k];
            var targetType = dtype is { } d && old.Dtype.IsFloatingPoint() ? d : old.Dtype;
            _buffers[k] = new(name, old.To(device, targetType).DetachFromScope());
            old.Dispose();
        }
    }

    /// <summary>Drops every parameter's gradient (cheaper than zero-filling; the next backward allocates it).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
        {
            p.Value.Grad = null;
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }
        foreach (var (_, child) in _children)
        {
            child.Dispose();
        }
        foreach (var (_, p) in _parameters)
        {
            p.Value.Dispose();
        }
        foreach (var (_, b) in _buffers)
        {
            b.Dispose();
        }
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}.{name}";
}

public sealed record StateDictReport(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<string> ShapeMismatched)
{
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatched.Count == 0;

    /// <summary>The counts alone, for the first words of a message.</summary>
    public string Summary => $"{Missing.Count} missing, {Unexpected.Count} unexpected, {ShapeMismatched.Count} of another shape";

    public override string ToString()
    {
        static string List(IReadOnlyList<string> names) => names.Count == 0 ? "none" : string.Join(", ", names.Take(20)) + (names.Count > 20 ? $", ... ({names.Count} in all)" : string.Empty);
        return $"missing: {List(Missing)}; unexpected: {List(Unexpected)}; shape mismatch: {List(ShapeMismatched)}";
    }
}

public sealed class StateDictMismatchException : Exception
{
    /// <param name="hint">What probably differs and how to fix it (e.g. the checkpoint's model size), put before the names.</param>
    public StateDictMismatchException(StateDictReport report, string? path = null, string? hint = null)
        : base($"{(path is null ? "state_dict" : path)} does not match the model ({report.Summary}){(hint is null ? string.Empty : $": {hint}")}. Names: {report}")
    {
        Report = report;
        Path = path;
    }

    public string? Path { get; }

    public StateDictReport Report { get; }
}
