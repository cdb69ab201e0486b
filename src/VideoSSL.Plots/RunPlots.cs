using System.Globalization;

namespace VideoSSL.Plots;

/// <summary>Redraws a run folder's plots from its metrics.jsonl, so plots can be remade at any time, even mid-run.</summary>
public static class RunPlots
{
    /// <summary>
    /// Writes plots/loss.{svg,png} (train/loss per step with an EMA), plots/lr.{svg,png} (opt/lr per step) and,
    /// when the log has validation keys, plots/curves.{svg,png} (loss and accuracy per epoch). A plot whose keys
    /// never appear is not written. Returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> Regenerate(string runDir)
    {
        var records = MetricsLog.Read(Path.Combine(runDir, "metrics.jsonl"));
        var plots = Path.Combine(runDir, "plots");
        var written = new List<string>();

        // Per-epoch summary lines are the ones carrying validation results; the rest are per-step lines.
        var epochLines = records.Where(r => r.Values.Keys.Any(k => k.StartsWith("val/", StringComparison.Ordinal))).ToList();
        var stepLines = records.Except(epochLines).ToList();
        var steps = stepLines.Select((r, i) => r.Has("step") ? r.Get("step") : i).ToArray();

        if (stepLines.Any(r => r.Has("train/loss")))
        {
            var loss = stepLines.Select(r => r.Get("train/loss")).ToArray();
            // Lag of an EMA is about weight / (1 - weight) points: keep it near 1% of the run so the trend is not shifted.
            var weight = Math.Clamp(1 - (100.0 / loss.Length), 0.6, 0.99);
            var chart = new LineChart { Title = "training loss", XLabel = "step", YLabel = "train/loss" };
            chart.AddSeries("train/loss", steps, loss, Rgb.Palette[0], lineWidth: 1.2, opacity: 0.3f);
            chart.AddSeries(string.Create(CultureInfo.InvariantCulture, $"EMA ({weight:0.##})"), steps, Ema(loss, weight), Rgb.Palette[0], lineWidth: 2.5);
            Save([chart], plots, "loss", written);
        }

        if (stepLines.Any(r => r.Has("opt/lr")))
        {
            var chart = new LineChart { Title = "learning rate", XLabel = "step", YLabel = "opt/lr" };
            chart.AddSeries("opt/lr", steps, [.. stepLines.Select(r => r.Get("opt/lr"))]);
            Save([chart], plots, "lr", written);
        }

        if (epochLines.Count > 0)
        {
            var epochs = epochLines.Select((r, i) => r.Has("epoch") ? r.Get("epoch") : i).ToArray();
            var keys = epochLines.SelectMany(r => r.Values.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
            var lossChart = new LineChart { Title = "loss per epoch", XLabel = "epoch", YLabel = "loss", Width = 700 };
            var accuracyChart = new LineChart { Title = "accuracy per epoch", XLabel = "epoch", YLabel = "accuracy", Width = 700 };
            foreach (var key in keys.Where(k => k.EndsWith("/loss", StringComparison.Ordinal)))
            {
                lossChart.AddSeries(key, epochs, [.. epochLines.Select(r => r.Get(key))], lineWidth: 2.5);
            }
            foreach (var key in keys.Where(IsAccuracy))
            {
                accuracyChart.AddSeries(key, epochs, [.. epochLines.Select(r => r.Get(key))], lineWidth: 2.5);
            }
            var panels = new[] { lossChart, accuracyChart }.Where(c => c.Series.Count > 0).ToList();
            if (panels.Count > 0)
            {
                Save(panels, plots, "curves", written);
            }
        }
        return written;
    }

    /// <summary>Debiased exponential moving average (as TensorBoard smooths); non-finite values are skipped, not averaged in.</summary>
    public static double[] Ema(IReadOnlyList<double> values, double weight)
    {
        var smoothed = new double[values.Count];
        double last = 0;
        var count = 0;
        for (var i = 0; i < values.Count; i++)
        {
            if (double.IsFinite(values[i]))
            {
                last = (weight * last) + ((1 - weight) * values[i]);
                count++;
            }
            smoothed[i] = count == 0 ? double.NaN : last / (1 - Math.Pow(weight, count));
        }
        return smoothed;
    }

    private static bool IsAccuracy(string key)
    {
        var name = key[(key.LastIndexOf('/') + 1)..];
        return (key.StartsWith("train/", StringComparison.Ordinal) || key.StartsWith("val/", StringComparison.Ordinal))
            && name.StartsWith("acc", StringComparison.Ordinal);
    }

    private static void Save(IReadOnlyList<LineChart> panels, string directory, string name, List<string> written)
    {
        var svg = Path.Combine(directory, name + ".svg");
        var png = Path.Combine(directory, name + ".png");
        AtomicFile.WriteAllText(svg, LineChart.ToSvg(panels));
        AtomicFile.WriteAllBytes(png, LineChart.ToRaster(panels).ToPng());
        written.Add(svg);
        written.Add(png);
    }
}
