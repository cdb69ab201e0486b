using System.Globalization;
using System.Text;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace VideoSSL.Plots;

/// <summary>One off-diagonal cell of a confusion matrix: <see cref="Count"/> clips of class True predicted as Predicted.</summary>
public readonly record struct Confusion(int True, int Predicted, long Count);

/// <summary>
/// A confusion matrix (rows = true class, columns = predicted class) drawn as a row-normalised heatmap,
/// readable from a handful of classes up to a few hundred: cells shrink, names show only where they fit.
/// </summary>
public sealed class ConfusionMatrixPlot
{
    public ConfusionMatrixPlot(long[,] counts, IReadOnlyList<string>? classNames = null)
    {
        var n = counts.GetLength(0);
        if (n == 0 || counts.GetLength(1) != n)
        {
            throw new ArgumentException($"confusion matrix must be square and non-empty, got {counts.GetLength(0)}x{counts.GetLength(1)}", nameof(counts));
        }
        if (classNames is not null && classNames.Count != n)
        {
            throw new ArgumentException($"{classNames.Count} class names for a {n}-class confusion matrix", nameof(classNames));
        }
        foreach (var c in counts)
        {
            if (c < 0)
            {
                throw new ArgumentException("confusion matrix counts must be non-negative", nameof(counts));
            }
        }
        Counts = counts;
        ClassNames = classNames ?? [.. Enumerable.Range(0, n).Select(i => i.ToString(CultureInfo.InvariantCulture))];
    }

    public long[,] Counts { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public int ClassCount => Counts.GetLength(0);
    public string Title { get; set; } = "confusion matrix";

    public long Total
    {
        get
        {
            long total = 0;
            foreach (var c in Counts)
            {
                total += c;
            }
            return total;
        }
    }

    /// <summary>Fraction of samples on the diagonal (top-1 accuracy), NaN for an empty matrix.</summary>
    public double Accuracy
    {
        get
        {
            long diagonal = 0;
            for (var i = 0; i < ClassCount; i++)
            {
                diagonal += Counts[i, i];
            }
            var total = Total;
            return total == 0 ? double.NaN : diagonal / (double)total;
        }
    }

    /// <summary>The k largest off-diagonal cells, largest first; ties by true then predicted class index.</summary>
    public IReadOnlyList<Confusion> TopConfusions(int k)
    {
        var cells = new List<Confusion>();
        for (var t = 0; t < ClassCount; t++)
        {
            for (var p = 0; p < ClassCount; p++)
            {
                if (t != p && Counts[t, p] > 0)
                {
                    cells.Add(new Confusion(t, p, Counts[t, p]));
                }
            }
        }
        return [.. cells.OrderByDescending(c => c.Count).ThenBy(c => c.True).ThenBy(c => c.Predicted).Take(k)];
    }

    /// <summary>One line per confusion: "count  true -> predicted  (share of the true class)".</summary>
    public string TopConfusionsText(int k)
    {
        var text = new StringBuilder();
        foreach (var c in TopConfusions(k))
        {
            long row = 0;
            for (var p = 0; p < ClassCount; p++)
            {
                row += Counts[c.True, p];
            }
            text.Append(CultureInfo.InvariantCulture, $"{c.Count,8}  {ClassNames[c.True]} -> {ClassNames[c.Predicted]}  ({100.0 * c.Count / row:0.0}% of {ClassNames[c.True]})\n");
        }
        return text.ToString();
    }

    /// <summary>The heatmap as a ScottPlot chart (row-normalised shares, counts in the cells when they fit).</summary>
    public Chart ToChart(string name = "confusion")
    {
        var n = ClassCount;
        var shares = new double[n, n];
        for (var t = 0; t < n; t++)
        {
            long row = 0;
            for (var p = 0; p < n; p++)
            {
                row += Counts[t, p];
            }
            for (var p = 0; p < n; p++)
            {
                shares[t, p] = row == 0 ? 0 : Counts[t, p] / (double)row;
            }
        }
        var plot = PlotStyle.NewPlot();
        var accuracy = Accuracy;
        plot.Title(double.IsNaN(accuracy) ? Title : string.Create(CultureInfo.InvariantCulture, $"{Title}  (top-1 {100 * accuracy:0.0}%, n={Total})"));
        var heatmap = plot.Add.Heatmap(shares);
        // ColorBrewer "Blues" (ScottPlot's runs dark to light, hence reversed): zero is near-white, so the mostly
        // empty off-diagonal of a 200-class matrix stays quiet.
        heatmap.Colormap = new ScottPlot.Colormaps.Blues().Reversed();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        // Rectangle, not Extent (which puts the outer cell centres on its edges): one unit per cell. ScottPlot draws
        // row 0 at the top, so true class t is centred on y = n - t - 0.5.
        heatmap.Rectangle = new CoordinateRect(0, n, 0, n);
        plot.Add.ColorBar(heatmap); // its label would overlap the tick labels: the x-axis label says what colour means

        var step = new[] { 1, 2, 5, 10, 20, 50, 100 }.First(k => n / k <= 40);
        var xTicks = new NumericManual();
        var yTicks = new NumericManual();
        for (var i = 0; i < n; i += step)
        {
            var label = step == 1 ? Shorten(ClassNames[i], 16) : i.ToString(CultureInfo.InvariantCulture);
            xTicks.AddMajor(i + 0.5, label);
            yTicks.AddMajor(n - i - 0.5, label);
        }
        plot.Axes.Bottom.TickGenerator = xTicks;
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.Bottom.TickLabelStyle.Rotation = -60;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.XLabel("predicted class (colour: share of the true class)");
        // ScottPlot sizes the axis for horizontal labels; rotated names need room for their length.
        plot.Axes.Bottom.MinimumSize = step == 1 ? 150 : 50;
        plot.YLabel("true class");
        if (n <= 20)
        {
            for (var t = 0; t < n; t++)
            {
                for (var p = 0; p < n; p++)
                {
                    if (Counts[t, p] == 0)
                    {
                        continue;
                    }
                    var label = plot.Add.Text(Counts[t, p].ToString(CultureInfo.InvariantCulture), p + 0.5, n - t - 0.5);
                    label.LabelAlignment = Alignment.MiddleCenter;
                    label.LabelFontSize = n <= 10 ? 14 : 10;
                    label.LabelFontColor = shares[t, p] > 0.55 ? Colors.White : Colors.Black;
                }
            }
        }
        plot.Axes.SetLimits(0, n, 0, n);
        plot.HideGrid();
        var size = Math.Clamp(n * 40, 480, 900);
        return new Chart(name, plot, size + 260, size + 140);
    }

    public byte[] ToPng() => ToChart().ToPng();

    /// <summary>Writes the heatmap as a PNG, atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllBytes(path, ToPng());

    private static string Shorten(string name, int max) => name.Length <= max ? name : string.Concat(name.AsSpan(0, max - 2), "..");
}
