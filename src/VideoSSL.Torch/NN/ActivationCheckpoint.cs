namespace VideoSSL.Torch.NN;

/// <summary>
/// Activation checkpointing per block (torch.utils.checkpoint, as the official ViT-H/g recipes use it), without an
/// autograd node that calls back into managed code: under gradient mode <see cref="Run"/> runs the blocks without a
/// graph, keeps only each block's input and the generator state before it, and hands on a fresh leaf as the blocks'
/// output. After the loss's backward has filled that leaf's gradient, <see cref="Backward"/> replays each block from
/// its input and state (the same drop-path draws, under the same autocast), back-propagates through it, block by
/// block from the last, and finally through the graph that produced the first input. Memory: one block's
/// activations at a time instead of all of them. The forward consumes the generator exactly as without
/// checkpointing and <see cref="Backward"/> puts it back, so a checkpointed run draws what a plain one draws.
/// </summary>
public static class ActivationCheckpoint
{
    private sealed record Segment(Tensor Input, Tensor[] Inputs, Tensor[] RngStates, Tensor Output, Device Device,
        (Device Device, ScalarType Dtype)? Autocast, Func<int, Tensor, Tensor> Block);

    // Forward and backward of a training step run on one thread; each keeps its own pending segments.
    [ThreadStatic]
    private static List<Segment>? t_pending;

    /// <summary>Segments whose backward has not run yet on this thread.</summary>
    public static int Pending => t_pending?.Count ?? 0;

    /// <summary>
    /// <paramref name="count"/> blocks applied in order to <paramref name="x"/> (<paramref name="block"/>(i, x) runs
    /// block i). Without gradient mode this is the plain loop; with it, the blocks' activations are not kept and
    /// the caller's training step must call <see cref="Backward"/> after the loss's backward.
    /// </summary>
    public static Tensor Run(Tensor x, int count, Func<int, Tensor, Tensor> block)
    {
        if (count == 0)
        {
            return x;
        }
        if (!Torch.IsGradEnabled || !x.RequiresGrad)
        {
            for (var i = 0; i < count; i++)
            {
                x = block(i, x);
            }
            return x;
        }
        var device = x.Device;
        var inputs = new Tensor[count];
        var states = new Tensor[count];
        Tensor output;
        using (var scope = Torch.NewScope())
        using (Torch.NoGrad())
        {
            var current = x;
            for (var i = 0; i < count; i++)
            {
                inputs[i] = current.Detach().DetachFromScope();
                states[i] = Torch.GetRngState(device).DetachFromScope();
                current = block(i, current);
            }
            output = current.Detach().DetachFromScope();
        }
        output.RequiresGrad_();
        (t_pending ??= []).Add(new Segment(x.Share().DetachFromScope(), inputs, states, output, device, AutocastScope.Active, block));
        return output.Share();
    }

    /// <summary>
    /// The checkpointed blocks' share of the backward pass, after <c>loss.Backward()</c>: segments are replayed from
    /// the newest (a later segment may feed an earlier one's output, never the reverse). A segment whose output got
    /// no gradient contributes nothing. Does nothing when no segment is pending.
    /// </summary>
    public static void Backward()
    {
        if (t_pending is not { Count: > 0 } pending)
        {
            return;
        }
        t_pending = null;
        var devices = pending.Select(s => s.Device).Distinct().ToList();
        var saved = devices.Select(d => Torch.GetRngState(d).DetachFromScope()).ToList();
        try
        {
            for (var s = pending.Count - 1; s >= 0; s--)
            {
                Replay(pending[s]);
            }
        }
        finally
        {
            for (var i = 0; i < devices.Count; i++)
            {
                Torch.SetRngState(saved[i], devices[i]);
                saved[i].Dispose();
            }
            foreach (var segment in pending)
            {
                Dispose(segment);
            }
        }
    }

    /// <summary>Drops pending segments without a backward (a step abandoned before its backward, e.g. a non-finite loss).</summary>
    public static void Discard()
    {
        if (t_pending is { } pending)
        {
            t_pending = null;
            pending.ForEach(Dispose);
        }
    }

    private static void Replay(Segment segment)
    {
        // The gradient flowing down is owned here, outside any scope: each block's input gradient replaces it.
        var grad = segment.Output.Grad?.DetachFromScope();
        if (grad is null)
        {
            return;
        }
        try
        {
            for (var i = segment.Inputs.Length - 1; i >= 0; i--)
            {
                using var scope = Torch.NewScope();
                var input = segment.Inputs[i].Detach().RequiresGrad_();
                Torch.SetRngState(segment.RngStates[i], segment.Device);
                Tensor y;
                using (segment.Autocast is { } a ? Torch.Autocast(a.Device, a.Dtype) : null)
                {
                    y = segment.Block(i, input);
                }
                y.Backward(grad);
                var next = input.Grad ?? throw new InvalidOperationException($"activation checkpoint: block {i} passed no gradient to its input");
                grad.Dispose();
                grad = next.DetachFromScope();
            }
            if (segment.Input.RequiresGrad)
            {
                segment.Input.Backward(grad);
            }
        }
        finally
        {
            grad.Dispose();
        }
    }

    private static void Dispose(Segment segment)
    {
        segment.Input.Dispose();
        segment.Output.Dispose();
        foreach (var t in segment.Inputs.Concat(segment.RngStates))
        {
            t.Dispose();
        }
    }
}
