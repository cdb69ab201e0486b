using System.Diagnostics;
using VideoSSL.Models;
using VideoSSL.Torch;
using static VideoSSL.Torch.Torch;

namespace VideoSSL.Cli;

internal static class OpsBenchmark
{
    /// <summary>Median wall time of one forward+backward of a VideoMAE block on [batch, tokens, dim].</summary>
    public static double BlockStepMilliseconds(int dim, int heads, int tokens, int batch, int iterations, Device device, bool bf16)
    {
        ManualSeed(0);
        // VideoMAE's block exactly as the models use it; tools/reference/bench_ops.py builds the same in PyTorch.
        using var block = new Block(dim, heads, dim * 4, QkvBiasStyle.QV, dropPath: 0, eps: 1e-6);
        block.To(device);
        using var x = Randn([batch, tokens, dim], device: device);
        void Step()
        {
            using var scope = NewScope();
            Tensor y;
            using (bf16 ? Autocast(device) : null)
            {
                y = block.Forward(x);
            }
            y.Float().Mean().Backward();
            block.ZeroGrad();
        }
        for (var k = 0; k < 3; k++)
        {
            Step();
        }
        Synchronize(device);
        var times = new List<double>();
        for (var k = 0; k < iterations; k++)
        {
            var watch = Stopwatch.StartNew();
            Step();
            Synchronize(device);
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static void Synchronize(Device device)
    {
        if (device.IsCuda)
        {
            CudaSynchronize(device.Index);
        }
    }
}
