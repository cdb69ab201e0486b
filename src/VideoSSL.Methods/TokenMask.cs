using VideoSSL.Torch;

namespace VideoSSL.Methods;

/// <summary>
/// A batch of token masks with the same count per sample, on the host and as tensors: <see cref="Mask"/>
/// [B, N] bool (true = masked), and the ascending positions of the unmasked (<see cref="Visible"/>, [B, Nvis])
/// and masked (<see cref="Masked"/>, [B, Nmask]) tokens, int64. Ascending order is what the official
/// <c>x[~mask].reshape(B, -1, C)</c> yields. For a VideoMAE V2 decoder mask, true means "not reconstructed",
/// so <see cref="Visible"/> holds the positions the decoder reconstructs (the official <c>~decode_masked_pos</c>).
/// The tensors belong to the dispose scope open at construction (or to the caller, via <see cref="Dispose"/>).
/// </summary>
public sealed class TokenMask : IDisposable
{
    public TokenMask(IReadOnlyList<bool[]> masks, Device? device = null)
    {
        if (masks.Count == 0)
        {
            throw new ArgumentException("a mask batch needs at least one sample", nameof(masks));
        }
        Batch = masks.Count;
        Tokens = masks[0].Length;
        NumMasked = masks[0].Count(m => m);
        NumVisible = Tokens - NumMasked;
        var flat = new bool[Batch * Tokens];
        var visible = new long[Batch * NumVisible];
        var masked = new long[Batch * NumMasked];
        for (var b = 0; b < Batch; b++)
        {
            var sample = masks[b];
            if (sample.Length != Tokens)
            {
                throw new ArgumentException($"mask {b} has {sample.Length} tokens, mask 0 has {Tokens}", nameof(masks));
            }
            var (v, m) = (0, 0);
            for (var n = 0; n < Tokens; n++)
            {
                flat[(b * Tokens) + n] = sample[n];
                if (sample[n])
                {
                    if (m == NumMasked)
                    {
                        throw new ArgumentException($"mask {b} masks more than the {NumMasked} tokens of mask 0: samples must stack", nameof(masks));
                    }
                    masked[(b * NumMasked) + m++] = n;
                }
                else
                {
                    if (v == NumVisible)
                    {
                        throw new ArgumentException($"mask {b} masks fewer than the {NumMasked} tokens of mask 0: samples must stack", nameof(masks));
                    }
                    visible[(b * NumVisible) + v++] = n;
                }
            }
        }
        Host = masks.Select(m => (bool[])m.Clone()).ToArray();
        var target = device ?? Device.CPU;
        Mask = Tensor.From<bool>(flat, [Batch, Tokens], target);
        Visible = Tensor.From<long>(visible, [Batch, NumVisible], target);
        Masked = Tensor.From<long>(masked, [Batch, NumMasked], target);
    }

    public int Batch { get; }
    public int Tokens { get; }
    public int NumMasked { get; }
    public int NumVisible { get; }

    /// <summary>The masks as given, one bool[N] per sample (true = masked).</summary>
    public IReadOnlyList<bool[]> Host { get; }

    public Tensor Mask { get; }
    public Tensor Visible { get; }
    public Tensor Masked { get; }

    /// <summary>The complement (masked ↔ visible), e.g. "reconstruct exactly the encoder-masked tokens".</summary>
    public TokenMask Inverted(Device? device = null) =>
        new(Host.Select(m => m.Select(x => !x).ToArray()).ToArray(), device ?? Mask.Device);

    public void Dispose()
    {
        Mask.Dispose();
        Visible.Dispose();
        Masked.Dispose();
    }
}
