using VideoSSL.Torch.Native;
using static VideoSSL.Torch.Native.OpArg;

namespace VideoSSL.Torch;

// Linear algebra needed by evaluation (closed-form probes on cached features).
public sealed partial class Tensor
{
    private static class EvalOps
    {
        public static readonly Op LinalgSolve = new("aten::linalg_solve");
    }

    /// <summary>X with this · X = b for a square (batch of) matrix this (torch.linalg.solve(A, B)).</summary>
    public Tensor LinalgSolve(Tensor b) => EvalOps.LinalgSolve.Call(T(this), T(b));
}
