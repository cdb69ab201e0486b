using VideoSSL.Models;
using VideoSSL.Torch;
using VideoSSL.Torch.NN;

namespace VideoSSL.Training.Evaluation;

using Torch = VideoSSL.Torch.Torch;

/// <summary>Which official attentive probe to build; the two differ in structure, so checkpoints are not interchangeable.</summary>
public enum AttentiveProbeVariant
{
    /// <summary>
    /// facebookresearch/jepa: the cross-attention HAS an output projection (<c>xattn.proj</c>); extra blocks
    /// (depth − 1) run self-attention over the query AFTER the cross-attention.
    /// </summary>
    VJepa,

    /// <summary>
    /// facebookresearch/vjepa2: the cross-attention has NO output projection; extra blocks (depth − 1) run
    /// self-attention over the encoder tokens BEFORE the cross-attention (the V-JEPA 2 probe uses depth 4).
    /// </summary>
    VJepa2,
}

/// <summary>
/// Frozen-encoder attentive probe (V-JEPA's AttentiveClassifier): a learned query cross-attends to the
/// encoder's tokens [B, N, D], then <c>linear</c> maps the pooled [B, D] to class logits. State-dict names
/// are the official ones (<c>pooler.query_tokens</c>, <c>pooler.cross_attention_block.xattn.q</c>, <c>linear.weight</c>, ...).
/// </summary>
public sealed class AttentiveProbe : Module
{
    public AttentiveProbe(long embedDim, long numHeads, long numClasses, long depth = 1, AttentiveProbeVariant variant = AttentiveProbeVariant.VJepa,
        double mlpRatio = 4.0, double normEps = 1e-5, double initStd = 0.02)
    {
        Pooler = Child("pooler", new AttentivePooler(embedDim, numHeads, depth, variant, mlpRatio, normEps, initStd));
        // The official code leaves this Linear at PyTorch's default init (AttentivePooler's _init_weights does not reach it).
        Classifier = Child("linear", new Linear(embedDim, numClasses));
    }

    public AttentivePooler Pooler { get; }

    public Linear Classifier { get; }

    /// <summary>Token features [B, N, D] → logits [B, classes].</summary>
    public Tensor Forward(Tensor tokens)
    {
        using var scope = Torch.NewScope();
        var pooled = Pooler.Forward(tokens).Squeeze(1); // [B, D]
        return scope.MoveToOuter(Classifier.Forward(pooled));
    }
}

/// <summary>One learned query (<c>query_tokens</c> [1, 1, D]) pooled over the tokens by a cross-attention block.</summary>
public sealed class AttentivePooler : Module
{
    private readonly AttentiveProbeVariant _variant;

    public AttentivePooler(long embedDim, long numHeads, long depth = 1, AttentiveProbeVariant variant = AttentiveProbeVariant.VJepa,
        double mlpRatio = 4.0, double normEps = 1e-5, double initStd = 0.02)
    {
        if (embedDim % numHeads != 0)
        {
            throw new ArgumentException($"embedDim {embedDim} is not divisible by numHeads {numHeads}");
        }
        if (depth < 1)
        {
            throw new ArgumentException($"depth must be at least 1 (got {depth})");
        }
        _variant = variant;
        using var noGrad = Torch.NoGrad();
        QueryTokens = Param("query_tokens", Init.TruncNormal_(Torch.Zeros([1, 1, embedDim]), initStd));
        CrossAttentionBlock = Child("cross_attention_block", new CrossAttentionBlock(embedDim, numHeads, mlpRatio, normEps, outputProjection: variant == AttentiveProbeVariant.VJepa));
        if (depth > 1)
        {
            Blocks = Child("blocks", new ModuleList<Block>(Enumerable.Range(0, (int)depth - 1).Select(_ => new Block((int)embedDim, (int)numHeads, (int)(embedDim * mlpRatio), QkvBiasStyle.Qkv, dropPath: 0, normEps))));
        }
        InitWeights(initStd);
    }

    /// <summary>[1, 1, D].</summary>
    public Parameter QueryTokens { get; }

    public CrossAttentionBlock CrossAttentionBlock { get; }

    /// <summary>The depth − 1 self-attention blocks, or null at depth 1.</summary>
    public ModuleList<Block>? Blocks { get; }

    /// <summary>Tokens [B, N, D] → pooled query [B, 1, D].</summary>
    public Tensor Forward(Tensor tokens)
    {
        using var scope = Torch.NewScope();
        var x = tokens;
        if (_variant == AttentiveProbeVariant.VJepa2 && Blocks is not null)
        {
            foreach (var block in Blocks)
            {
                x = block.Forward(x);
            }
        }
        var q = QueryTokens.Value.Expand(x.Size(0), -1, -1);
        q = CrossAttentionBlock.Forward(q, x);
        if (_variant == AttentiveProbeVariant.VJepa && Blocks is not null)
        {
            foreach (var block in Blocks)
            {
                q = block.Forward(q);
            }
        }
        return scope.MoveToOuter(q);
    }

    // AttentivePooler._init_weights then _rescale_blocks: every Linear trunc_normal(std), bias 0; LayerNorms 1/0
    // (already so); then residual-branch output weights divided by sqrt(2 · layer_id).
    private void InitWeights(double std)
    {
        foreach (var (_, module) in NamedModules())
        {
            if (module is Linear linear)
            {
                Init.TruncNormal_(linear.Weight, std);
                if (linear.Bias is { } bias)
                {
                    Init.Zeros_(bias);
                }
            }
        }
        using var noGrad = Torch.NoGrad();
        if (_variant == AttentiveProbeVariant.VJepa)
        {
            CrossAttentionBlock.Attention.Proj!.Weight.Value.Div_(Math.Sqrt(2.0));
            CrossAttentionBlock.Mlp.Fc2.Weight.Value.Div_(Math.Sqrt(2.0));
            // jepa writes `enumerate(1, self.blocks)`, which raises for depth > 1; this follows the evident
            // intent (enumerate(blocks, 1)): block l (from 1) is divided by sqrt(2 · (l + 1)).
            if (Blocks is not null)
            {
                for (var l = 1; l <= Blocks.Count; l++)
                {
                    Blocks[l - 1].Attn.Proj.Weight.Value.Div_(Math.Sqrt(2.0 * (l + 1)));
                    Blocks[l - 1].Mlp.Fc2.Weight.Value.Div_(Math.Sqrt(2.0 * (l + 1)));
                }
            }
        }
        else
        {
            // vjepa2: block i (from 0) by sqrt(2 · (i + 1)); the cross block's fc2 by the last block's factor
            // (layer_id is left at the last index, 0 without blocks); its xattn has no proj to rescale.
            var lastLayerId = 0;
            if (Blocks is not null)
            {
                for (var i = 0; i < Blocks.Count; i++)
                {
                    Blocks[i].Attn.Proj.Weight.Value.Div_(Math.Sqrt(2.0 * (i + 1)));
                    Blocks[i].Mlp.Fc2.Weight.Value.Div_(Math.Sqrt(2.0 * (i + 1)));
                    lastLayerId = i;
                }
            }
            CrossAttentionBlock.Mlp.Fc2.Weight.Value.Div_(Math.Sqrt(2.0 * (lastLayerId + 1)));
        }
    }
}

/// <summary><c>q = q + xattn(q, norm1(x)); q = q + mlp(norm2(q))</c>: the query itself is not normalised before attending.</summary>
public sealed class CrossAttentionBlock : Module
{
    public CrossAttentionBlock(long dim, long numHeads, double mlpRatio = 4.0, double normEps = 1e-5, bool outputProjection = true)
    {
        Norm1 = Child("norm1", new LayerNorm(dim, normEps));
        Attention = Child("xattn", new CrossAttention(dim, numHeads, outputProjection));
        Norm2 = Child("norm2", new LayerNorm(dim, normEps));
        Mlp = Child("mlp", new Mlp((int)dim, (int)(dim * mlpRatio)));
    }

    public LayerNorm Norm1 { get; }
    public CrossAttention Attention { get; }
    public LayerNorm Norm2 { get; }
    public Mlp Mlp { get; }

    /// <summary>Query [B, n, D] attending to tokens [B, N, D] → [B, n, D].</summary>
    public Tensor Forward(Tensor q, Tensor x)
    {
        using var scope = Torch.NewScope();
        var y = Attention.Forward(q, Norm1.Forward(x));
        q = q.Add(y);
        q = q.Add(Mlp.Forward(Norm2.Forward(q)));
        return scope.MoveToOuter(q);
    }
}

/// <summary>Multi-head cross-attention with separate <c>q</c> and <c>kv</c> Linears (with bias) and an optional <c>proj</c>.</summary>
public sealed class CrossAttention : Module
{
    private readonly long _numHeads;

    public CrossAttention(long dim, long numHeads, bool outputProjection = true)
    {
        _numHeads = numHeads;
        Q = Child("q", new Linear(dim, dim));
        Kv = Child("kv", new Linear(dim, 2 * dim));
        Proj = outputProjection ? Child("proj", new Linear(dim, dim)) : null;
    }

    public Linear Q { get; }
    public Linear Kv { get; }
    public Linear? Proj { get; }

    public Tensor Forward(Tensor query, Tensor x)
    {
        using var scope = Torch.NewScope();
        var (b, n, c) = (query.Size(0), query.Size(1), query.Size(2));
        var tokens = x.Size(1);
        var q = Q.Forward(query).Reshape(b, n, _numHeads, c / _numHeads).Permute(0, 2, 1, 3); // [B, h, n, c/h]
        var kv = Kv.Forward(x).Reshape(b, tokens, 2, _numHeads, c / _numHeads).Permute(2, 0, 3, 1, 4); // [2, B, h, N, c/h]
        var o = Torch.ScaledDotProductAttention(q, kv.Select(0, 0), kv.Select(0, 1)); // [B, h, n, c/h]
        // Proj is never applied: jepa's evals/video_classification_frozen CrossAttention builds `proj` (so it is in
        // every V-JEPA probe checkpoint) but its forward returns before using it (methods.md §3). Loaded, ignored.
        o = o.Transpose(1, 2).Reshape(b, n, c);
        return scope.MoveToOuter(o);
    }
}

