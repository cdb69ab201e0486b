namespace VideoSSL.Plots;

/// <summary>Redraws a run folder's plots from its metrics.jsonl, so plots can be remade at any time, even mid-run.</summary>
public static class RunPlots
{
    /// <summary>
    /// Writes every chart of <see cref="RunCharts"/> as plots/NAME.{png,svg} in the run folder. A chart whose keys
    /// never appear is not written. Returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> Regenerate(string runDir) => Write([RunData.Load(runDir)], Path.Combine(runDir, "plots"));

    /// <summary>Several runs overlaid on shared axes (e.g. pretrained vs random probes), written to <paramref name="outDir"/>.</summary>
    public static IReadOnlyList<string> Overlay(IReadOnlyList<string> runDirs, string outDir) =>
        Write([.. runDirs.Select(RunData.Load)], outDir);

    private static List<string> Write(IReadOnlyList<RunData> runs, string outDir)
    {
        var written = new List<string>();
        foreach (var chart in RunCharts.For(runs))
        {
            written.AddRange(chart.Save(outDir));
        }
        return written;
    }
}
