using System.Xml.Linq;
using VideoSSL.Plots;
using VideoSSL.Training.Logging;

namespace VideoSSL.Tests.Plots;

public sealed class RunPlotsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("videossl-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Skia's SVG device cannot draw dashes: for every dashed or dotted marker and line (train/ and mean-class curves
    // of a fine-tuning run) it printed "Unsupported path effect in addPaint." on stderr, 93 times for one 30-epoch run.
    [Fact]
    public void Plotting_a_fine_tuning_run_prints_no_skia_complaint_and_keeps_both_formats()
    {
        File.WriteAllLines(Path.Combine(_dir, "metrics.jsonl"), Enumerable.Range(0, 3).SelectMany(e => new[]
        {
            $$"""{"step":{{(e + 1) * 10}},"epoch":{{e}},"train/loss":2.3,"opt/lr":0.001,"time":{{e}}}""",
            $$"""{"step":{{(e + 1) * 10}},"epoch":{{e}},"val/loss":2.2,"val/acc1":0.{{e + 1}},"val/mean_class_acc":0.{{e + 1}},"train/acc1":0.{{e + 2}}}""",
        }));
        using var cli = new VideoSSL.Tests.Distributed.CliProcess(null, "plot", _dir);
        Assert.Equal(0, cli.Wait(TimeSpan.FromSeconds(60)));
        Assert.DoesNotContain("Unsupported", cli.Out + cli.Err, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_dir, "plots", "val_top1.svg")) && File.Exists(Path.Combine(_dir, "plots", "val_top1.png")));
    }

    [Fact]
    public void Regenerate_skips_a_truncated_last_line_and_writes_loss_and_lr()
    {
        var lines = Enumerable.Range(0, 50).Select(i =>
            $$"""{"step":{{i * 10}},"epoch":0,"train/loss":{{(1.0 / (1 + (i * 0.1))).ToString(System.Globalization.CultureInfo.InvariantCulture)}},"opt/lr":{{i}}e-6,"time":{{i}}}""");
        File.WriteAllText(Path.Combine(_dir, "metrics.jsonl"), string.Join('\n', lines) + "\n{\"step\":500,\"train/lo");

        var written = RunPlots.Regenerate(_dir);

        var names = written.Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["loss.png", "loss.svg", "loss_log.png", "loss_log.svg", "opt_lr.png", "opt_lr.svg"], names);
        foreach (var path in written)
        {
            Assert.True(new FileInfo(path).Length > 100, path);
        }
        var svg = XDocument.Load(Path.Combine(_dir, "plots", "loss.svg"));
        Assert.Contains(svg.Descendants(XName.Get("text", "http://www.w3.org/2000/svg")), t => t.Value.Trim().StartsWith("EMA", StringComparison.Ordinal));
        Assert.Equal(800, PngDecoder.Decode(File.ReadAllBytes(Path.Combine(_dir, "plots", "opt_lr.png"))).Width);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "plots"), "*.tmp"));
    }

    /// <summary>
    /// One logged step, or a flat loss, gives the log axis an empty range; ScottPlot's LogMinorTickGenerator then
    /// stepped by a zero spacing and grew its tick list until the machine ran out of memory (an SVT recipe-start
    /// run at 2.5262 reached 13 GB). The axis now gets limits of its own.
    /// </summary>
    [Theory]
    [InlineData("2.5261752605438232", 1)]
    [InlineData("0.7", 5)]
    public async Task A_single_point_or_flat_loss_plots_without_running_away(string loss, int lines)
    {
        File.WriteAllLines(Path.Combine(_dir, "metrics.jsonl"), Enumerable.Range(1, lines).Select(i => $$"""{"step":{{i}},"epoch":0,"train/loss":{{loss}},"opt/lr":6.25E-05,"time":0.5}"""));
        var written = await Task.Run(() => RunPlots.Regenerate(_dir)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(written, p => Path.GetFileName(p) == "loss_log.png");
    }

    [Fact]
    public void A_bad_line_before_the_end_is_an_error_naming_file_and_line()
    {
        File.WriteAllText(Path.Combine(_dir, "metrics.jsonl"), "{\"step\":1,\"train/loss\":1}\n{oops\n{\"step\":2,\"train/loss\":0.5}\n");
        var e = Assert.Throws<InvalidDataException>(() => RunPlots.Regenerate(_dir));
        Assert.Contains("metrics.jsonl:2", e.Message);
    }

    [Fact]
    public void Missing_metrics_file_is_reported()
    {
        var e = Assert.Throws<FileNotFoundException>(() => RunPlots.Regenerate(_dir));
        Assert.Contains("metrics.jsonl", e.Message);
    }

    [Fact]
    public void Eval_lines_from_the_metrics_writer_give_epoch_curves()
    {
        using (var metrics = new MetricsWriter(Path.Combine(_dir, "metrics.jsonl")))
        {
            for (var epoch = 0; epoch < 4; epoch++)
            {
                metrics.Write(("step", epoch * 100), ("epoch", epoch), ("train/loss", 2.0 - (0.3 * epoch)), ("opt/lr", 1e-3));
                metrics.Write(("epoch", epoch), ("train/loss", 2.0 - (0.3 * epoch)), ("train/acc1", 30.0 + (10 * epoch)),
                    ("val/loss", epoch == 2 ? double.NaN : 2.1 - (0.25 * epoch)), ("val/acc1", 28.0 + (9 * epoch)));
            }
        }

        var written = RunPlots.Regenerate(_dir).Select(Path.GetFileName).ToList();

        Assert.Contains("epoch_loss.svg", written);
        Assert.Contains("val_top1.png", written);
        var texts = XDocument.Load(Path.Combine(_dir, "plots", "epoch_loss.svg"))
            .Descendants(XName.Get("text", "http://www.w3.org/2000/svg")).Select(t => t.Value.Trim()).ToList();
        Assert.Contains("train/loss", texts);
        Assert.Contains("val/loss", texts);
        // The per-epoch train/loss must not leak into the per-step loss plot: 4 step points, not 8.
        var run = RunData.Load(_dir);
        Assert.Equal(4, run.StepSeries("train/loss").Values.Length);
        Assert.Equal(4, run.EpochSeries("val/acc1").Values.Length);
    }

    [Fact]
    public void Overlay_writes_shared_charts_for_several_runs()
    {
        using var a = new TempRun("a").Metrics(TempRun.PretrainLines(30, 5, 10));
        using var b = new TempRun("b").Metrics(TempRun.PretrainLines(30, 5, 10));
        var outDir = Path.Combine(_dir, "compare");

        var written = RunPlots.Overlay([a.Dir, b.Dir], outDir);

        Assert.Contains(Path.Combine(outDir, "loss.png"), written);
        Assert.True(File.Exists(Path.Combine(outDir, "opt_grad_norm.svg")));
    }

    [Fact]
    public void Ema_is_debiased_and_skips_non_finite_values()
    {
        var ema = RunCharts.Ema([double.NaN, 2, double.NaN, 2, 4], 0.5);
        Assert.True(double.IsNaN(ema[0]));
        Assert.Equal(2, ema[1], 12);
        Assert.Equal(2, ema[2], 12);
        Assert.Equal(2, ema[3], 12);
        // (0.5*(0.5*(0.5*0 + 0.5*2) + 0.5*2) + 0.5*4) / (1 - 0.5^3) = 2.75 / 0.875
        Assert.Equal(2.75 / 0.875, ema[4], 12);
    }
}
