using System.Diagnostics;
using System.Text.RegularExpressions;
using VideoSSL.Plots;

namespace VideoSSL.Tests.Plots;

public sealed partial class HtmlReportTests
{
    [Fact]
    public void Report_is_self_contained_with_manifest_config_diff_curves_grids_and_results()
    {
        using var pretrain = PretrainRun();
        using var probe = ProbeRun("probe-pretrained", "runs/p/checkpoints/last.safetensors");
        using var random = ProbeRun("probe-random", "");
        var outPath = Path.Combine(pretrain.Root, "report.html");

        HtmlReport.Write([pretrain.Dir, probe.Dir, random.Dir], outPath);
        var html = File.ReadAllText(outPath);

        Assert.Contains("0123456789ab", html); // commit, shortened
        Assert.Contains("2.1.0 (CPU)", html);
        Assert.Contains("<code>init</code>", html); // the probes differ in init: it is in the diff
        Assert.DoesNotMatch(@"<td><code>seed</code>", html); // equal in all runs: not in the diff
        Assert.Contains("75.0% [", html); // test top-1 of 6/8 with its interval
        Assert.Contains("walk", html); // per-class table names classes
        // Every image is an inline PNG that decodes; nothing is fetched from anywhere.
        var sources = ImageSource().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.True(sources.Count >= 10, $"{sources.Count} images");
        foreach (var source in sources)
        {
            Assert.StartsWith("data:image/png;base64,", source);
            PngDecoder.Decode(Convert.FromBase64String(source["data:image/png;base64,".Length..]));
        }
        Assert.DoesNotMatch(@"(src|href)=""(https?:|//)", html);
        Assert.Contains("reconstruction.png", html);
        Assert.DoesNotContain("reconstruction-0000050.png", html); // step snapshots are left out, the latest is shown
    }

    [Fact]
    public void Report_of_a_missing_run_folder_names_it()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => HtmlReport.Build(["/nonexistent/run-folder"]));
        Assert.Contains("/nonexistent/run-folder", e.Message);
    }

    [ChromiumFact]
    public void Chromium_loads_the_report_without_console_errors_and_decodes_every_image()
    {
        using var pretrain = PretrainRun();
        using var probe = ProbeRun("probe-pretrained", "ckpt");
        var report = Path.Combine(pretrain.Root, "report.html");
        HtmlReport.Write([pretrain.Dir, probe.Dir], report);
        var images = ImageSource().Count(File.ReadAllText(report));
        // A copy with a checker: at load every <img> must be complete with a width (a broken PNG has none) and no error event may fire.
        var checkedCopy = Path.Combine(pretrain.Root, "checked.html");
        File.WriteAllText(checkedCopy, File.ReadAllText(report).Replace("</body>", """
            <script>
            const errors = [];
            window.addEventListener('error', e => errors.push(String(e.message || (e.target && e.target.tagName))), true);
            window.addEventListener('load', () => {
              let decoded = 0;
              for (const img of document.images) { if (img.complete && img.naturalWidth > 0) decoded++; else errors.push('not decoded ' + img.alt); }
              document.body.setAttribute('data-check', 'decoded=' + decoded + ' errors=' + errors.length + ' ' + errors.join(';'));
            });
            </script></body>
            """, StringComparison.Ordinal));

        var (dom, log) = Chromium("--dump-dom", checkedCopy);

        Assert.Contains($"data-check=\"decoded={images} errors=0 \"", dom);
        Assert.DoesNotMatch(@"CONSOLE\(\d+\)\].*(Uncaught|Error)", log);

        // The screenshot tool works on the real report.
        var shot = Path.Combine(pretrain.Root, "shot.png");
        var script = Path.Combine(RepoPaths.Root, "tools", "report_screenshot.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script, report, shot, "1200", "1500"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, stderr);
        var (w, h, _, _) = PngDecoder.Decode(File.ReadAllBytes(shot));
        Assert.Equal((1200, 1500), (w, h));
    }

    internal static TempRun PretrainRun()
    {
        var run = new TempRun("pretrain")
            .Metrics(TempRun.PretrainLines(100, warmup: 20, stepsPerEpoch: 25))
            .WithFile("config.json", """{"name":"p","seed":0,"method":"videomae","model":{"norm_pix_loss":false},"train":{"epochs":4}}""")
            .WithFile("manifest.json", """{"seed":0,"command":"pretrain","git_commit":"0123456789abcdef","git_dirty":false,"libtorch":"2.1.0 (CPU)","device":"cpu","started":"2026-12-02T18:00:00+00:00"}""");
        var frame = PlotStyle.EncodePng(new byte[16 * 16 * 3], 16, 16);
        Directory.CreateDirectory(Path.Combine(run.Dir, "plots"));
        File.WriteAllBytes(Path.Combine(run.Dir, "plots", "reconstruction.png"), frame);
        File.WriteAllBytes(Path.Combine(run.Dir, "plots", "reconstruction-0000050.png"), frame);
        return run;
    }

    internal static TempRun ProbeRun(string name, string init)
    {
        var epochs = Enumerable.Range(0, 3).SelectMany(e => new[]
        {
            $$"""{"step":{{(e * 10) + 5}},"epoch":{{e}},"train/loss":{{1.2 - (0.1 * e)}},"opt/lr":0.001,"opt/grad_norm":0.5,"time":{{e}}}""",
            $$"""{"step":{{(e * 10) + 10}},"epoch":{{e}},"train/loss":1,"train/acc1":0.5,"val/loss":{{1.3 - (0.1 * e)}},"val/acc1":{{TempRun.F(0.4 + (0.1 * e))}},"val/acc5":1,"time":{{e + 0.5}}}""",
        });
        return new TempRun(name)
            .Metrics(epochs)
            .WithFile("config.json", $$$"""{"name":"{{{name}}}","seed":0,"init":"{{{init}}}","model":{"num_classes":4},"probe":{"kind":"linear"}}""")
            .WithFile("manifest.json", """{"command":"probe","git_commit":"0123456789abcdef","libtorch":"2.1.0 (CPU)","device":"cpu"}""")
            .WithFile("class_index.json", """{"walk":0,"run":1,"jump":2,"swim":3}""")
            .WithFile("test/predictions.csv", TempRun.Predictions([0, 1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 3, 2], 4));
    }

    private static (string Stdout, string Stderr) Chromium(string mode, string file)
    {
        var profile = Directory.CreateTempSubdirectory("videossl-chromium-").FullName;
        try
        {
            var start = new ProcessStartInfo(ChromiumFactAttribute.Path,
                ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                 "--virtual-time-budget=10000", mode, "file://" + file])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (stdout, stderr.Result);
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    [GeneratedRegex("<img [^>]*src=\"([^\"]+)\"")]
    private static partial Regex ImageSource();
}

/// <summary>A test that needs Debian's chromium; skipped (not failed) where it is not installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Path = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Path))
        {
            Skip = $"{Path} is not installed (apt-get install -y chromium)";
        }
    }
}
