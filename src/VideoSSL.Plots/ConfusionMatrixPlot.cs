using System.Globalization;
using System.Text;

namespace VideoSSL.Plots;

/// <summary>One off-diagonal cell of a confusion matrix: <see cref="Count"/> clips of class True predicted as Predicted.</summary>
public readonly record struct Confusion(int True, int Predicted, long Count);

/// <summary>
/// A confusion matrix (rows = true class, columns = predicted class) drawn as a row-normalised heatmap,
/// readable from a handful of classes up to a few hundred: cells shrink, names show only where they fit.
/// </summary>
public sealed class ConfusionMatrixPlot
{
    // ColorBrewer "Blues": zero is near-white, so the mostly empty off-diagonal of a 200-class matrix stays quiet.
    private static readonly Rgb[] s_blues =
    [
        Rgb.Parse("#f7fbff"), Rgb.Parse("#deebf7"), Rgb.Parse("#c6dbef"), Rgb.Parse("#9ecae1"), Rgb.Parse("#6baed6"),
        Rgb.Parse("#4292c6"), Rgb.Parse("#2171b5"), Rgb.Parse("#08519c"), Rgb.Parse("#08306b"),
    ];

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

    /// <summary>Side of the matrix area in pixels; cells get floor(size / classes), between 2 and 48.</summary>
    public int MatrixSize { get; set; } = 760;

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

    public Raster Render()
    {
        var n = ClassCount;
        var cell = Math.Clamp(MatrixSize / n, 2, 48);
        var size = cell * n;
        const int margin = 14;
        const int s = 2;
        var capHeight = BitmapFont.CapHeight * s;

        // Names go beside rows / above columns only when a 7-pixel glyph fits the cell; otherwise every k-th index.
        var nameScale = cell >= 18 ? 2 : 1;
        var showNames = cell >= 9;
        var labelStep = showNames ? 1 : new[] { 1, 2, 5, 10, 20, 50, 100, 200, 500 }.First(k => k * cell >= 14);
        var labels = Enumerable.Range(0, n).Select(i => showNames ? Shorten(ClassNames[i], 16) : i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var labelScale = showNames ? nameScale : 1;
        var labelLength = Enumerable.Range(0, n).Where(i => i % labelStep == 0).Max(i => Raster.MeasureText(labels[i], labelScale).Width);

        var titleTop = margin;
        var axisTitleTop = titleTop + capHeight + margin;
        var matrixTop = axisTitleTop + capHeight + 8 + labelLength + 6;
        var matrixLeft = margin + capHeight + 16 + labelLength + 6;
        const int barWidth = 18;
        var barLeft = matrixLeft + size + 20;
        var barLabelWidth = Raster.MeasureText("100%", s).Width;
        var width = Math.Max(barLeft + barWidth + 10 + barLabelWidth + margin, margin + Raster.MeasureText(Title, s).Width + margin);
        var height = matrixTop + size + margin;

        var raster = new Raster(width, height);
        var text = Rgb.Parse("#222222");
        var accuracy = Accuracy;
        var title = double.IsNaN(accuracy) ? Title : string.Create(CultureInfo.InvariantCulture, $"{Title}  (top-1 {100 * accuracy:0.0}%, n={Total})");
        if (Raster.MeasureText(title, s).Width > width - (2 * margin))
        {
            title = Title;
        }
        raster.DrawText(margin, titleTop, title, text, s);
        var predicted = "predicted (row-normalised)";
        raster.DrawText(matrixLeft + ((size - Raster.MeasureText(predicted, s).Width) / 2), axisTitleTop, predicted, text, s);
        raster.DrawTextVertical(margin, matrixTop + ((size - Raster.MeasureText("true", s).Width) / 2), "true", text, s);

        for (var t = 0; t < n; t++)
        {
            long row = 0;
            for (var p = 0; p < n; p++)
            {
                row += Counts[t, p];
            }
            for (var p = 0; p < n; p++)
            {
                var share = row == 0 ? 0 : Counts[t, p] / (double)row;
                var color = ColorOf(share);
                raster.FillRect(matrixLeft + (p * cell), matrixTop + (t * cell), cell, cell, color);
                var count = Counts[t, p].ToString(CultureInfo.InvariantCulture);
                var (w, h) = Raster.MeasureText(count, 1);
                if (cell >= 20 && w <= cell - 4 && Counts[t, p] > 0)
                {
                    raster.DrawText(matrixLeft + (p * cell) + ((cell - w) / 2), matrixTop + (t * cell) + ((cell - h) / 2), count, color.Luminance < 0.5 ? Rgb.White : text, 1);
                }
            }
        }
        raster.DrawRect(matrixLeft - 1, matrixTop - 1, size + 2, size + 2, Rgb.Parse("#888888"));

        var labelHeight = BitmapFont.CapHeight * labelScale;
        for (var i = 0; i < n; i += labelStep)
        {
            var (w, _) = Raster.MeasureText(labels[i], labelScale);
            var center = (i * cell) + (cell / 2);
            raster.DrawText(matrixLeft - 6 - w, matrixTop + center - (labelHeight / 2), labels[i], text, labelScale);
            raster.DrawTextVertical(matrixLeft + center - (labelHeight / 2), matrixTop - 6 - w, labels[i], text, labelScale);
        }

        // Colour bar: share of the true class, 0 at the bottom.
        for (var y = 0; y < size; y++)
        {
            raster.FillRect(barLeft, matrixTop + y, barWidth, 1, ColorOf(1 - (y / (double)Math.Max(size - 1, 1))));
        }
        raster.DrawRect(barLeft - 1, matrixTop - 1, barWidth + 2, size + 2, Rgb.Parse("#888888"));
        foreach (var (value, label) in new[] { (1.0, "100%"), (0.5, "50%"), (0.0, "0%") })
        {
            var y = matrixTop + (int)Math.Round((1 - value) * (size - 1));
            raster.FillRect(barLeft + barWidth + 1, y, 4, 1, text);
            raster.DrawText(barLeft + barWidth + 10, Math.Clamp(y - (capHeight / 2), 0, height - capHeight), label, text, s);
        }
        return raster;
    }

    public byte[] ToPng() => Render().ToPng();

    /// <summary>Writes the heatmap as a PNG, atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllBytes(path, ToPng());

    private static Rgb ColorOf(double share)
    {
        var position = Math.Clamp(share, 0, 1) * (s_blues.Length - 1);
        var index = Math.Min((int)position, s_blues.Length - 2);
        return s_blues[index].Lerp(s_blues[index + 1], position - index);
    }

    private static string Shorten(string name, int max) => name.Length <= max ? name : string.Concat(name.AsSpan(0, max - 2), "..");
}
