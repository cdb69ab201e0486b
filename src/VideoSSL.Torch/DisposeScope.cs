namespace VideoSSL.Torch;

/// <summary>
/// Disposes every tensor created on this thread while it is the innermost open scope, except those moved
/// out with <see cref="Tensor.MoveToOuterScope"/> or <see cref="Tensor.DetachFromScope"/>. A training step
/// runs inside one scope, so its activations and gradients are freed at the end of the step, deterministically.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic]
    private static DisposeScope? t_current;

    private readonly List<Tensor> _tensors = [];
    private bool _disposed;

    private DisposeScope(DisposeScope? parent)
    {
        Parent = parent;
    }

    internal DisposeScope? Parent { get; }

    internal static DisposeScope? Current => t_current;

    /// <summary>Tensors still owned by this scope (for diagnostics).</summary>
    public int Count => _tensors.Count(t => t.Scope == this && !t.IsDisposed);

    public static DisposeScope Enter()
    {
        var scope = new DisposeScope(t_current);
        t_current = scope;
        return scope;
    }

    internal static void RegisterWithCurrent(Tensor tensor) => t_current?.Register(tensor);

    internal void Register(Tensor tensor)
    {
        tensor.Scope = this;
        _tensors.Add(tensor);
    }

    // Removal is lazy: the list keeps the entry and Dispose skips tensors whose Scope is no longer this one.
    internal void Forget(Tensor tensor)
    {
    }

    /// <summary>Keeps a result alive past this scope: it moves to the enclosing scope (or to the caller).</summary>
    public Tensor MoveToOuter(Tensor tensor)
    {
        if (tensor.Scope != this)
        {
            throw new InvalidOperationException("the tensor does not belong to this scope");
        }
        return tensor.MoveToOuterScope();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (t_current != this)
        {
            throw new InvalidOperationException("dispose scopes must be closed in the reverse order they were opened, on the thread that opened them");
        }
        t_current = Parent;
        foreach (var tensor in _tensors)
        {
            if (tensor.Scope == this)
            {
                tensor.Scope = null;
                tensor.Dispose();
            }
        }
        _tensors.Clear();
    }
}
