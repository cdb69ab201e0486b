using ScottPlot;
using VideoSSL.Plots;

namespace VideoSSL.Tests.Plots;

public sealed class ChartTests
{
    private static readonly (byte R, byte G, byte B) s_blue = (0x1f, 0x77, 0xb4);

    [Fact]
    public void A_curve_lands_where_the_data_says()
    {
        using var run = new TempRun().Metrics(TempRun.PretrainLines(100, warmup: 20, stepsPerEpoch: 25));
        var chart = RunCharts.For([RunData.Load(run.Dir)]).Single(c => c.Name == "opt_lr");
        var image = PngDecoder.Decode(chart.ToPng());

        Assert.Equal((Chart.DefaultWidth, Chart.DefaultHeight), (image.Width, image.Height));
        // After rendering, ScottPlot's transform maps data to pixels in that image: the line's colour must be there.
        foreach (var (step, lr) in new[] { (10.0, 0.5e-3), (20.0, 1e-3), (60.0, 1e-3 * (1 - (40 / 100.0))) })
        {
            var pixel = chart.Plot.GetPixel(new Coordinates(step, lr));
            Assert.True(Near(image, pixel, s_blue, radius: 1), $"no line colour at step {step} ({pixel.X}, {pixel.Y})");
            // 40 pixels above the line is background, so the check above is not passing everywhere.
            Assert.False(Near(image, new Pixel(pixel.X, pixel.Y - 40), s_blue, radius: 1), $"line colour off the curve at step {step}");
        }
    }

    [Fact]
    public void Log_loss_panel_puts_a_power_law_on_a_straight_line()
    {
        // loss = 10^(-step/50): on a log axis every point sits on the line between the ends.
        using var run = new TempRun().Metrics(TempRun.PretrainLines(100, warmup: 10, stepsPerEpoch: 100, loss: s => Math.Pow(10, -s / 50.0)));
        var charts = RunCharts.For([RunData.Load(run.Dir)]);
        var chart = charts.Single(c => c.Name == "loss_log");
        var image = PngDecoder.Decode(chart.ToPng());

        var start = chart.Plot.GetPixel(new Coordinates(1, -1 / 50.0));
        var end = chart.Plot.GetPixel(new Coordinates(100, -2.0));
        var middle = chart.Plot.GetPixel(new Coordinates(50, -1.0));
        var fraction = (50 - 1) / 99.0;
        Assert.Equal(start.Y + (fraction * (end.Y - start.Y)), middle.Y, 0.5);
        // The opaque line is the EMA: at step 50 it lies at log10 of the smoothed value.
        var losses = Enumerable.Range(1, 100).Select(s => Math.Pow(10, -s / 50.0)).ToArray();
        var ema = RunCharts.Ema(losses, RunCharts.EmaWeight(100));
        Assert.True(Near(image, chart.Plot.GetPixel(new Coordinates(50, Math.Log10(ema[49]))), s_blue, radius: 1));
        Assert.Contains("log scale", chart.Plot.Axes.Title.Label.Text);
    }

    [Fact]
    public void Loss_title_names_the_objective_and_marks_warmup_and_epochs()
    {
        using var run = new TempRun()
            .Metrics(TempRun.PretrainLines(100, warmup: 20, stepsPerEpoch: 25))
            .WithFile("config.json", """{"method":"videomae","model":{"norm_pix_loss":false}}""");
        var data = RunData.Load(run.Dir);
        var loss = RunCharts.For([data]).Single(c => c.Name == "loss");

        Assert.Contains("MSE on raw pixels", loss.Plot.Axes.Title.Label.Text);
        Assert.Equal(20, RunCharts.WarmupEnd(data));
        Assert.Equal([26.0, 51, 76], RunCharts.EpochStarts(data));
        var lines = loss.Plot.GetPlottables<ScottPlot.Plottables.VerticalLine>().ToList();
        Assert.Contains(lines, l => l.X == 20 && l.LegendText.Contains("warm-up", StringComparison.Ordinal));
        Assert.Equal(3, lines.Select(l => l.X).Where(x => x != 20).Distinct().Count());
        Assert.Contains(loss.Plot.GetPlottables<ScottPlot.Plottables.Scatter>(), s => s.LegendText.StartsWith("EMA", StringComparison.Ordinal));

        var normalised = new TempRun().Metrics(TempRun.PretrainLines(10, 2, 5)).WithFile("config.json", """{"method":"videomae","model":{"norm_pix_loss":true}}""");
        using (normalised)
        {
            Assert.Contains("normalised pixels", RunCharts.For([RunData.Load(normalised.Dir)])[0].Plot.Axes.Title.Label.Text);
        }
    }

    [Fact]
    public void Any_scheduled_or_monitor_key_gets_a_panel_and_groups_share_one()
    {
        var lines = Enumerable.Range(1, 40).Select(s =>
            $$"""{"step":{{s}},"train/loss":1,"opt/lr":0.1,"opt/lr/group0":0.01,"opt/lr/group1":0.02,"opt/weight_decay":0.05,"opt/teacher_temp":0.04,"monitor/feature_std":0.3}""");
        using var run = new TempRun().Metrics(lines);

        var charts = RunCharts.For([RunData.Load(run.Dir)]);

        Assert.Equal(["loss", "loss_log", "opt_lr", "opt_teacher_temp", "opt_weight_decay", "monitor_feature_std"], charts.Select(c => c.Name));
        var lr = charts.Single(c => c.Name == "opt_lr").Plot;
        Assert.Equal(3, lr.GetPlottables<ScottPlot.Plottables.Scatter>().Count());
        Assert.Contains("per parameter group", lr.Axes.Title.Label.Text);
        Assert.StartsWith("collapse monitor", charts[^1].Plot.Axes.Title.Label.Text);
    }

    [Fact]
    public void Validation_accuracy_is_in_percent_with_a_chance_line_and_top5_apart()
    {
        var lines = Enumerable.Range(0, 4).Select(e =>
            $$"""{"step":{{e * 10}},"epoch":{{e}},"train/loss":1,"val/loss":{{1.5 - (0.1 * e)}},"val/acc1":{{TempRun.F(0.3 + (0.1 * e))}},"val/acc5":{{TempRun.F(0.8 + (0.05 * e))}}}""");
        using var run = new TempRun().Metrics(lines).WithFile("config.json", """{"model":{"num_classes":4},"probe":{"kind":"linear"}}""");

        var charts = RunCharts.For([RunData.Load(run.Dir)]);

        var top1 = charts.Single(c => c.Name == "val_top1").Plot;
        var top5 = charts.Single(c => c.Name == "val_top5").Plot;
        Assert.Equal([30.0, 40, 50, 60], top1.GetPlottables<ScottPlot.Plottables.Scatter>().Single().Data.GetScatterPoints().Select(p => Math.Round(p.Y, 6)));
        Assert.Equal(25, top1.GetPlottables<ScottPlot.Plottables.HorizontalLine>().Single().Y);
        Assert.Equal(100, top5.GetPlottables<ScottPlot.Plottables.HorizontalLine>().Single().Y); // 5 of 4 classes: always right
        Assert.Contains(charts, c => c.Name == "epoch_loss");
    }

    [Fact]
    public void Several_runs_share_axes_one_colour_each()
    {
        using var a = new TempRun("pretrained").Metrics(TempRun.PretrainLines(50, 5, 10));
        using var b = new TempRun("random").Metrics(TempRun.PretrainLines(50, 5, 10, s => 2.0 / s));

        var loss = RunCharts.For([RunData.Load(a.Dir), RunData.Load(b.Dir)]).Single(c => c.Name == "loss").Plot;

        var ema = loss.GetPlottables<ScottPlot.Plottables.Scatter>().Where(s => s.LegendText.Contains("EMA", StringComparison.Ordinal)).ToList();
        Assert.Equal(["pretrained EMA", "random EMA"], ema.Select(s => s.LegendText[..s.LegendText.IndexOf(" (", StringComparison.Ordinal)]));
        Assert.NotEqual(ema[0].Color, ema[1].Color);
    }

    private static bool Near((int Width, int Height, int Channels, byte[] Pixels) image, Pixel pixel, (byte R, byte G, byte B) color, int radius)
    {
        for (var dy = -radius; dy <= radius; dy++)
        {
            for (var dx = -radius; dx <= radius; dx++)
            {
                var (x, y) = ((int)Math.Round(pixel.X) + dx, (int)Math.Round(pixel.Y) + dy);
                if (x < 0 || y < 0 || x >= image.Width || y >= image.Height)
                {
                    continue;
                }
                var (r, g, b) = PngDecoder.Pixel(image, x, y);
                if (Math.Abs(r - color.R) + Math.Abs(g - color.G) + Math.Abs(b - color.B) < 40)
                {
                    return true;
                }
            }
        }
        return false;
    }
}
