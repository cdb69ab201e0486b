using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace VideoSSL.Plots;

/// <summary>One picture: a file name (no extension), the plot, and the fixed size it is rendered at.</summary>
public sealed record Chart(string Name, Plot Plot, int Width = Chart.DefaultWidth, int Height = Chart.DefaultHeight)
{
    public const int DefaultWidth = 800;
    public const int DefaultHeight = 450;

    public byte[] ToPng() => PlotStyle.Png(Plot, Width, Height);

    public IReadOnlyList<string> Save(string directory) => PlotStyle.Save(Plot, directory, Name, Width, Height);
}

/// <summary>
/// The curves of one run, or of several overlaid on shared axes. Chart selection follows the data: train/loss gets
/// a linear and a log-y panel; every other per-step key gets a panel, keys sharing their first two path segments
/// together (so <c>opt/lr/group3</c> joins <c>opt/lr</c>, and any <c>opt/*</c> schedule or <c>monitor/*</c> collapse
/// monitor a method logs later shows up without code here); per-epoch lines give loss and top-1 / top-5 in percent.
/// </summary>
public static class RunCharts
{
    private static readonly HashSet<string> s_notPlotted = ["step", "epoch", "time", "train/loss"];

    private static readonly Dictionary<string, string> s_titles = new(StringComparer.Ordinal)
    {
        ["opt/lr"] = "learning rate",
        ["opt/weight_decay"] = "weight decay",
        ["opt/wd"] = "weight decay",
        ["opt/grad_norm"] = "gradient norm (before clipping)",
        ["opt/ema_momentum"] = "EMA momentum (teacher)",
        ["opt/momentum"] = "EMA momentum (teacher)",
        ["opt/teacher_temp"] = "teacher temperature",
        ["perf/clips_per_s"] = "throughput (clips/s)",
        ["mem/peak_mib"] = "peak memory (MiB)",
    };

    public static IReadOnlyList<Chart> For(IReadOnlyList<RunData> runs)
    {
        if (runs.Count == 0)
        {
            throw new ArgumentException("no runs to plot", nameof(runs));
        }
        var charts = new List<Chart>();
        if (runs.Any(r => r.StepLines.Any(l => l.Has("train/loss"))))
        {
            charts.Add(Loss(runs, logY: false));
            charts.Add(Loss(runs, logY: true));
        }
        var groups = runs.SelectMany(r => r.StepLines.SelectMany(l => l.Values.Keys))
            .Where(k => !s_notPlotted.Contains(k))
            .Distinct()
            .GroupBy(Group)
            .OrderBy(g => Order(g.Key)).ThenBy(g => g.Key, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            charts.Add(StepPanel(runs, group.Key, [.. group.Order(StringComparer.Ordinal)]));
        }
        if (runs.Any(r => r.EpochLines.Count > 0))
        {
            charts.AddRange(EpochPanels(runs));
        }
        return charts;
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

    /// <summary>EMA weight for a curve of n points: the lag of an EMA is about w / (1 - w) points, kept near 1% of the run.</summary>
    public static double EmaWeight(int n) => Math.Clamp(1 - (100.0 / Math.Max(n, 1)), 0.6, 0.99);

    /// <summary>The step where opt/lr peaks, i.e. where linear warm-up ends; null when the peak is the first point (no warm-up).</summary>
    public static double? WarmupEnd(RunData run)
    {
        var (steps, lr) = run.StepSeries("opt/lr");
        if (lr.Length < 3)
        {
            return null;
        }
        var peak = Array.IndexOf(lr, lr.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max());
        return peak > 0 && peak < lr.Length - 1 ? steps[peak] : null;
    }

    /// <summary>First logged step of each epoch after the first.</summary>
    public static IReadOnlyList<double> EpochStarts(RunData run)
    {
        var starts = new List<double>();
        for (var i = 1; i < run.StepLines.Count; i++)
        {
            var (previous, current) = (run.StepLines[i - 1], run.StepLines[i]);
            if (previous.Has("epoch") && current.Has("epoch") && current.Get("epoch") > previous.Get("epoch"))
            {
                starts.Add(current.Has("step") ? current.Get("step") : i);
            }
        }
        return starts;
    }

    private static Chart Loss(IReadOnlyList<RunData> runs, bool logY)
    {
        var plot = PlotStyle.NewPlot();
        var lossNames = runs.Select(r => r.LossName).Distinct().ToList();
        plot.Title($"training loss{(logY ? " (log scale)" : string.Empty)}: {string.Join(" / ", lossNames)}");
        plot.XLabel("step");
        plot.YLabel("train/loss");
        for (var r = 0; r < runs.Count; r++)
        {
            var run = runs[r];
            var (steps, loss) = run.StepSeries("train/loss");
            if (steps.Length == 0)
            {
                continue;
            }
            var color = PlotStyle.Palette[r % PlotStyle.Palette.Count];
            var prefix = runs.Count > 1 ? run.Name + " " : string.Empty;
            var weight = EmaWeight(loss.Length);
            AddLine(plot, prefix + "raw", steps, loss, color.WithAlpha(0.35), 1, logY);
            AddLine(plot, prefix + string.Create(CultureInfo.InvariantCulture, $"EMA ({weight:0.##})"), steps, Ema(loss, weight), color, 2.5f, logY);
            if (WarmupEnd(run) is { } warmup)
            {
                var line = plot.Add.VerticalLine(warmup, 1.5f, color, LinePattern.Dashed);
                line.LegendText = $"{prefix}warm-up end (step {warmup:0})";
            }
            if (runs.Count == 1)
            {
                var epochs = EpochStarts(run);
                foreach (var start in epochs)
                {
                    plot.Add.VerticalLine(start, 1, Colors.Gray.WithAlpha(0.35), LinePattern.Dotted);
                }
                if (epochs.Count > 0)
                {
                    // One legend entry for all boundaries.
                    plot.Add.VerticalLine(epochs[0], 1, Colors.Gray.WithAlpha(0.35), LinePattern.Dotted).LegendText = "epoch boundaries";
                }
            }
        }
        if (logY)
        {
            var logs = runs.SelectMany(r => r.StepSeries("train/loss").Values).Where(v => v > 0 && double.IsFinite(v)).Select(Math.Log10).DefaultIfEmpty(0).ToList();
            LogAxis(plot, logs.Min(), logs.Max());
        }
        plot.ShowLegend(Alignment.UpperRight);
        return new Chart(logY ? "loss_log" : "loss", plot);
    }

    private static Chart StepPanel(IReadOnlyList<RunData> runs, string group, IReadOnlyList<string> keys)
    {
        var plot = PlotStyle.NewPlot();
        var title = s_titles.TryGetValue(group, out var t) ? t : group;
        if (group.StartsWith("monitor/", StringComparison.Ordinal))
        {
            title = $"collapse monitor: {group["monitor/".Length..]}";
        }
        plot.Title(title + (keys.Count > 1 ? " (per parameter group)" : string.Empty));
        plot.XLabel("step");
        plot.YLabel(group);
        var i = 0;
        for (var r = 0; r < runs.Count; r++)
        {
            foreach (var key in keys)
            {
                var (steps, values) = runs[r].StepSeries(key);
                if (steps.Length == 0 || !values.Any(double.IsFinite))
                {
                    continue;
                }
                var color = PlotStyle.Palette[(runs.Count > 1 && keys.Count == 1 ? r : i) % PlotStyle.Palette.Count];
                var label = runs.Count > 1 ? (keys.Count > 1 ? $"{runs[r].Name} {key}" : runs[r].Name) : key;
                AddLine(plot, label, steps, values, color, 2, logY: false);
                i++;
            }
        }
        plot.ShowLegend(Alignment.UpperRight);
        return new Chart(group.Replace('/', '_'), plot);
    }

    private static IEnumerable<Chart> EpochPanels(IReadOnlyList<RunData> runs)
    {
        var keys = runs.SelectMany(r => r.EpochLines.SelectMany(l => l.Values.Keys)).Distinct().Order(StringComparer.Ordinal).ToList();
        var lossKeys = keys.Where(k => k.EndsWith("/loss", StringComparison.Ordinal)).ToList();
        if (lossKeys.Count > 0)
        {
            yield return EpochChart(runs, "epoch_loss", "loss per epoch", "loss", lossKeys, percent: false, chance: null);
        }
        var classes = runs.Select(r => r.ClassCount).Where(n => n > 0).DefaultIfEmpty(0).Max();
        var top1 = keys.Where(k => k is "val/acc1" or "train/acc1" or "val/mean_class_acc").ToList();
        if (top1.Count > 0)
        {
            yield return EpochChart(runs, "val_top1", "top-1 accuracy per epoch", "top-1 (%)", top1, percent: true, classes > 0 ? 100.0 / classes : null);
        }
        var top5 = keys.Where(k => k is "val/acc5" or "train/acc5").ToList();
        if (top5.Count > 0)
        {
            yield return EpochChart(runs, "val_top5", "top-5 accuracy per epoch", "top-5 (%)", top5, percent: true, classes > 0 ? Math.Min(100, 500.0 / classes) : null);
        }
    }

    private static Chart EpochChart(IReadOnlyList<RunData> runs, string name, string title, string yLabel, IReadOnlyList<string> keys, bool percent, double? chance)
    {
        var plot = PlotStyle.NewPlot();
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        var i = 0;
        for (var r = 0; r < runs.Count; r++)
        {
            foreach (var key in keys)
            {
                var (epochs, values) = runs[r].EpochSeries(key);
                if (epochs.Length == 0)
                {
                    continue;
                }
                if (percent)
                {
                    // Metrics are logged as fractions; a log already in percent is left as it is.
                    var scale = values.Where(double.IsFinite).DefaultIfEmpty(0).Max() <= 1 ? 100 : 1;
                    values = [.. values.Select(v => v * scale)];
                }
                // Several runs: one colour per run, the split told by the line (train dashed, mean-class dotted).
                var color = PlotStyle.Palette[(runs.Count > 1 ? r : i) % PlotStyle.Palette.Count];
                var label = runs.Count > 1 ? $"{runs[r].Name} {key}" : key;
                var line = AddLine(plot, label, epochs, values, color, 2.5f, logY: false);
                if (line is not null)
                {
                    line.LinePattern = key.StartsWith("train/", StringComparison.Ordinal) ? LinePattern.Dashed
                        : key.Contains("mean_class", StringComparison.Ordinal) ? LinePattern.Dotted : LinePattern.Solid;
                }
                i++;
            }
        }
        if (chance is { } c)
        {
            var line = plot.Add.HorizontalLine(c, 1.5f, Colors.Gray, LinePattern.Dashed);
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"chance ({c:0.#}%)");
        }
        if (percent)
        {
            plot.Axes.SetLimitsY(0, 100);
        }
        plot.ShowLegend(percent ? Alignment.LowerRight : Alignment.UpperRight);
        return new Chart(name, plot);
    }

    /// <summary>A line through the finite points (non-positive ones dropped on a log axis); a lone point gets a marker.</summary>
    private static ScottPlot.Plottables.Scatter? AddLine(Plot plot, string label, double[] xs, double[] ys, Color color, float width, bool logY)
    {
        var keep = Enumerable.Range(0, xs.Length).Where(i => double.IsFinite(xs[i]) && double.IsFinite(ys[i]) && (!logY || ys[i] > 0)).ToArray();
        if (keep.Length == 0)
        {
            return null;
        }
        var x = keep.Select(i => xs[i]).ToArray();
        var y = keep.Select(i => logY ? Math.Log10(ys[i]) : ys[i]).ToArray();
        var scatter = plot.Add.Scatter(x, y, color);
        scatter.LineWidth = width;
        scatter.MarkerSize = x.Length <= 30 ? 6 : 0;
        scatter.LegendText = label;
        return scatter;
    }

    // ScottPlot plots log10 of the data on a linear axis; ticks are labelled with the values themselves.
    // Within one decade there would be no power-of-ten tick to label, so ticks fall where NumericAutomatic puts them.
    // The limits are set here, never left to autoscaling: one point or a flat loss autoscales to a range so small
    // that the major tick spacing vanishes against the values, and LogMinorTickGenerator, stepping by it, never ends
    // (it filled memory until the process was killed).
    private static void LogAxis(Plot plot, double low, double high)
    {
        var decades = high - low;
        var pad = Math.Max(0.05 * decades, 0.1);
        plot.Axes.SetLimitsY(low - pad, high + pad);
        var ticks = new NumericAutomatic
        {
            MinorTickGenerator = new LogMinorTickGenerator(),
            IntegerTicksOnly = decades >= 1.5,
            LabelFormatter = y => Math.Pow(10, y).ToString("G3", CultureInfo.InvariantCulture),
        };
        plot.Axes.Left.TickGenerator = ticks;
        plot.Axes.Left.Label.Text = "train/loss (log scale)";
    }

    private static string Group(string key)
    {
        var parts = key.Split('/');
        return parts.Length <= 2 ? key : $"{parts[0]}/{parts[1]}";
    }

    private static int Order(string group) => group switch
    {
        "opt/lr" => 0,
        _ when group.StartsWith("opt/", StringComparison.Ordinal) && group != "opt/grad_norm" => 1,
        "opt/grad_norm" => 2,
        _ when group.StartsWith("monitor/", StringComparison.Ordinal) => 3,
        _ when group.StartsWith("train/", StringComparison.Ordinal) || group.StartsWith("val/", StringComparison.Ordinal) => 4,
        _ => 5,
    };
}
