namespace VideoSSL.Plots;

public sealed partial class LineChart
{
    private readonly record struct Tick(double Value, double Pixel, string Label);

    private sealed record Segment(int SeriesIndex, List<(double X, double Y)> Points);

    private sealed record LegendEntry(int SeriesIndex, int SampleX0, int SampleX1, int TextX, int CenterY);

    private sealed record LegendBox(int X, int Y, int Width, int Height, List<LegendEntry> Entries);

    /// <summary>Where everything goes, in pixels; shared by the SVG and PNG renderers so both look alike.</summary>
    private sealed class Layout
    {
        public Layout(LineChart chart)
        {
            var s = chart.TextScale;
            if (s < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(chart), chart.TextScale, "chart TextScale must be at least 1");
            }
            var capHeight = BitmapFont.CapHeight * s;
            TitleScale = chart.Title.Length > 0 && Raster.MeasureText(chart.Title, s + 1).Width <= chart.Width - (2 * Pad) ? s + 1 : s;

            // Points that can be drawn, split where a value is missing so gaps stay visible.
            var runs = new List<(int Series, List<(double X, double Y)> Points)>();
            for (var i = 0; i < chart.Series.Count; i++)
            {
                var series = chart.Series[i];
                List<(double, double)>? run = null;
                for (var k = 0; k < series.Xs.Length; k++)
                {
                    var (x, y) = (series.Xs[k], series.Ys[k]);
                    if (!double.IsFinite(x) || !double.IsFinite(y) || (chart.LogY && y <= 0))
                    {
                        run = null;
                        continue;
                    }
                    if (run is null)
                    {
                        run = [];
                        runs.Add((i, run));
                    }
                    run.Add((x, chart.LogY ? Math.Log10(y) : y));
                }
            }
            var all = runs.SelectMany(r => r.Points).ToList();
            NoData = all.Count == 0;
            double xMin = 0, xMax = 1, yMin = 0, yMax = 1;
            if (!NoData)
            {
                (xMin, xMax) = (all.Min(p => p.X), all.Max(p => p.X));
                (yMin, yMax) = (all.Min(p => p.Y), all.Max(p => p.Y));
            }
            if (xMax - xMin <= Math.Abs(xMax) * 1e-12)
            {
                var d = xMin == 0 ? 1 : Math.Abs(xMin) * 0.1;
                (xMin, xMax) = (xMin - d, xMax + d);
            }
            if (yMax - yMin <= Math.Abs(yMax) * 1e-12)
            {
                var d = chart.LogY ? 0.5 : yMin == 0 ? 1 : Math.Abs(yMin) * 0.1;
                (yMin, yMax) = (yMin - d, yMax + d);
            }

            // Vertical space first: it fixes how many y ticks fit, whose labels then fix the left margin.
            Top = Pad + (chart.Title.Length > 0 ? (BitmapFont.CapHeight * TitleScale) + Pad : capHeight / 2);
            var bottomMargin = TickLength + Gap + capHeight + (chart.XLabel.Length > 0 ? Gap + 4 + capHeight : 0) + Pad;
            Bottom = chart.Height - 1 - bottomMargin;
            var plotHeight = Bottom - Top;
            if (plotHeight < 4 * capHeight)
            {
                throw new ArgumentException($"chart height {chart.Height} leaves no room to plot at text scale {s}", nameof(chart));
            }

            double[] yValues;
            Func<double, string> yLabel;
            if (chart.LogY)
            {
                (yMin, yMax) = (Math.Floor(yMin + 1e-9), Math.Ceiling(yMax - 1e-9));
                yValues = [.. Ticks.Log(Math.Pow(10, yMin), Math.Pow(10, yMax)).Select(Math.Log10)];
                yLabel = v => Ticks.FormatLog(Math.Pow(10, v));
            }
            else
            {
                var step = Ticks.NiceStep(yMax - yMin, Math.Clamp(plotHeight / (4 * capHeight), 3, 10));
                // Loose bounds: the axis ends on ticks, so the top and bottom of the frame are labelled.
                (yMin, yMax) = (Math.Floor((yMin / step) + 1e-9) * step, Math.Ceiling((yMax / step) - 1e-9) * step);
                yValues = Ticks.Within(yMin, yMax, step);
                yLabel = v => Ticks.Format(v, step);
            }
            var yLabels = yValues.Select(yLabel).ToArray();
            var yLabelWidth = yLabels.Length == 0 ? 0 : yLabels.Max(l => Raster.MeasureText(l, s).Width);
            Left = Pad + (chart.YLabel.Length > 0 ? capHeight + Gap + 4 : 0) + yLabelWidth + Gap + TickLength;

            // x ticks: as many as fit with at least three characters between neighbouring labels.
            var right = chart.Width - 1 - Pad;
            double[] xValues = [];
            string[] xLabels = [];
            for (var target = Math.Max(2, (right - Left) / (8 * BitmapFont.Advance * s)); target >= 1; target--)
            {
                var step = Ticks.NiceStep(xMax - xMin, target);
                xValues = Ticks.Within(xMin, xMax, step);
                xLabels = [.. xValues.Select(v => Ticks.Format(v, step))];
                var widest = xLabels.Length == 0 ? 0 : xLabels.Max(l => Raster.MeasureText(l, s).Width);
                var spacing = (right - Left) * step / (xMax - xMin);
                if (spacing >= widest + (3 * BitmapFont.Advance * s))
                {
                    break;
                }
            }
            // Leave room for half of the last label when it sits at the right edge.
            if (xLabels.Length > 0)
            {
                var lastWidth = Raster.MeasureText(xLabels[^1], s).Width;
                var lastPixel = Left + ((right - Left) * (xValues[^1] - xMin) / (xMax - xMin));
                if (lastPixel + (lastWidth / 2.0) > chart.Width - 1 - (Pad / 2))
                {
                    right = chart.Width - 1 - (Pad / 2) - (lastWidth / 2);
                }
            }
            Right = right;
            if (Right - Left < 4 * capHeight)
            {
                throw new ArgumentException($"chart width {chart.Width} leaves no room to plot at text scale {s}", nameof(chart));
            }
            XTickLabelTop = Bottom + TickLength + Gap;
            XLabelTop = XTickLabelTop + capHeight + Gap + 4;

            double PixelX(double x) => Left + ((Right - Left) * (x - xMin) / (xMax - xMin));
            double PixelY(double y) => Bottom - ((Bottom - Top) * (y - yMin) / (yMax - yMin));
            XTicks = [.. xValues.Select((v, i) => new Tick(v, PixelX(v), xLabels[i]))];
            YTicks = [.. yValues.Select((v, i) => new Tick(v, PixelY(v), yLabels[i]))];
            Segments = [.. runs.Select(r => new Segment(r.Series, Decimate([.. r.Points.Select(p => (PixelX(p.X), PixelY(p.Y)))])))];
            Legend = PlaceLegend(chart, s);
        }

        public int Left { get; }
        public int Right { get; }
        public int Top { get; }
        public int Bottom { get; }
        public int XTickLabelTop { get; }
        public int XLabelTop { get; }
        public int TitleScale { get; }
        public bool NoData { get; }
        public Tick[] XTicks { get; }
        public Tick[] YTicks { get; }
        public Segment[] Segments { get; }
        public LegendBox? Legend { get; }

        /// <summary>
        /// Keeps, per pixel column, the first, lowest, highest and last point: the drawn line is unchanged
        /// but a million-step run does not make a million-vertex SVG.
        /// </summary>
        private static List<(double X, double Y)> Decimate(List<(double X, double Y)> points)
        {
            if (points.Count < 2000)
            {
                return points;
            }
            var kept = new List<(double X, double Y)>();
            var start = 0;
            while (start < points.Count)
            {
                var column = Math.Floor(points[start].X);
                var end = start;
                int low = start, high = start;
                while (end < points.Count && Math.Floor(points[end].X) == column)
                {
                    if (points[end].Y < points[low].Y)
                    {
                        low = end;
                    }
                    if (points[end].Y > points[high].Y)
                    {
                        high = end;
                    }
                    end++;
                }
                foreach (var index in new SortedSet<int> { start, low, high, end - 1 })
                {
                    kept.Add(points[index]);
                }
                start = end;
            }
            return kept;
        }

        /// <summary>Puts the legend in the plot corner that hides the fewest points, preferring top right.</summary>
        private LegendBox? PlaceLegend(LineChart chart, int s)
        {
            var shown = Enumerable.Range(0, chart.Series.Count).Where(i => chart.Series[i].ShowInLegend && chart.Series[i].Name.Length > 0).ToList();
            if (shown.Count == 0)
            {
                return null;
            }
            const int sample = 28;
            var rowHeight = (BitmapFont.CapHeight * s) + Gap;
            var width = Gap + sample + Gap + shown.Max(i => Raster.MeasureText(chart.Series[i].Name, s).Width) + Gap + 2;
            var height = (shown.Count * rowHeight) + Gap;
            const int inset = 8;
            (int X, int Y)[] corners =
            [
                (Right - inset - width, Top + inset),
                (Left + inset + 1, Top + inset),
                (Right - inset - width, Bottom - inset - height),
                (Left + inset + 1, Bottom - inset - height),
            ];
            var best = corners[0];
            var fewest = int.MaxValue;
            foreach (var corner in corners)
            {
                var hidden = 0;
                foreach (var segment in Segments)
                {
                    foreach (var (x, y) in segment.Points)
                    {
                        if (x >= corner.X - 4 && x <= corner.X + width + 4 && y >= corner.Y - 4 && y <= corner.Y + height + 4)
                        {
                            hidden++;
                        }
                    }
                }
                if (hidden < fewest)
                {
                    (best, fewest) = (corner, hidden);
                }
            }
            var entries = shown.Select((index, row) =>
            {
                var centerY = best.Y + Gap + (row * rowHeight) + (BitmapFont.CapHeight * s / 2);
                return new LegendEntry(index, best.X + Gap, best.X + Gap + sample, best.X + Gap + sample + Gap, centerY);
            }).ToList();
            return new LegendBox(best.X, best.Y, width, height, entries);
        }
    }
}
