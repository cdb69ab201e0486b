using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace VideoSSL.Plots;

/// <summary>
/// One self-contained HTML page for one or more run folders: manifests, resolved configs and their differences,
/// every curve (runs of the same command overlaid), the latest reconstruction / mask grids, and test results with
/// per-class accuracy, the confusion matrix and bootstrap 95% intervals. Images are inline PNG data URIs and there
/// is no script, stylesheet or font from the network, so the file opens offline in any browser.
/// </summary>
public static partial class HtmlReport
{
    // Result folders the CLI writes: probe and fine-tune runs put their test in test/, `videossl eval` in eval/.
    private static readonly string[] s_resultDirs = ["test", "eval"];

    /// <summary>Builds the page and writes it atomically to <paramref name="outPath"/>.</summary>
    public static void Write(IReadOnlyList<string> runDirs, string outPath) =>
        AtomicFile.WriteAllText(outPath, Build(runDirs));

    public static string Build(IReadOnlyList<string> runDirs)
    {
        if (runDirs.Count == 0)
        {
            throw new ArgumentException("no run folders given", nameof(runDirs));
        }
        var runs = runDirs.Select(RunData.Load).ToList();
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>VideoSSL run report</title>
            <style>
            body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1700px}
            h1{font-size:22px}h2{font-size:19px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}h3{font-size:16px}
            table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
            th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
            .charts{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}.charts img{width:560px;height:auto;border:1px solid #eee}
            img.grid{max-width:100%;border:1px solid #eee}pre{background:#f7f7f7;padding:8px;font-size:12px;overflow:auto;max-height:420px}
            .note{color:#666;font-size:12px}
            </style></head><body>
            """).Append('\n');
        html.Append("<h1>VideoSSL run report</h1>\n");
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">{runs.Count} run(s), generated {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC. Accuracy intervals: 95% percentile bootstrap over test videos (2000 resamples).</p>\n");

        Summary(html, runs);
        Configs(html, runs);
        Curves(html, runs);
        Pictures(html, runs);
        Results(html, runs);
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static void Summary(StringBuilder html, List<RunData> runs)
    {
        html.Append("<h2>Runs</h2>\n<table><tr><th>run</th><th>command</th><th>commit</th><th>libtorch</th><th>device</th><th>started</th><th>duration</th><th>last train loss</th><th>best val top-1</th><th>test top-1 (95% CI)</th><th>test top-5 (95% CI)</th></tr>\n");
        foreach (var run in runs)
        {
            var m = run.Manifest;
            var commit = Text(m, "git_commit", "gitCommit");
            commit = commit.Length > 12 ? commit[..12] : commit;
            if (Text(m, "git_dirty", "gitDirty") == "true")
            {
                commit += " (dirty)";
            }
            var (_, loss) = run.StepSeries("train/loss");
            var lastLoss = loss.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Last();
            var (_, acc) = run.EpochSeries("val/acc1");
            var best = acc.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
            var test = ReadResults(run);
            html.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{E(run.Name)}</td><td>{E(Text(m, "command"))}</td><td><code>{E(commit)}</code></td><td>{E(Text(m, "libtorch"))}</td><td>{E(Text(m, "device"))}</td><td>{E(Text(m, "started"))}</td><td class=\"num\">{Duration(run.Seconds)}</td><td class=\"num\">{Number(lastLoss)}</td><td class=\"num\">{Percent(best)}</td><td class=\"num\">{(test is null ? "" : test.Bootstrap(1).ToString())}</td><td class=\"num\">{(test is null ? "" : test.Bootstrap(5).ToString())}</td></tr>\n");
        }
        html.Append("</table>\n");
    }

    private static void Configs(StringBuilder html, List<RunData> runs)
    {
        html.Append("<h2>Configuration</h2>\n");
        // Runs of one command are compared (a pretraining and a probe share few keys, so their diff says nothing).
        foreach (var group in runs.GroupBy(Command).Where(g => g.Count() > 1))
        {
            var members = group.ToList();
            var flat = members.Select(r => Flatten(r.Config)).ToList();
            var keys = flat.SelectMany(f => f.Keys).Distinct().Order(StringComparer.Ordinal)
                .Where(k => flat.Select(f => f.GetValueOrDefault(k, "(absent)")).Distinct().Count() > 1).ToList();
            html.Append(CultureInfo.InvariantCulture, $"<h3>Differences between {E(group.Key)} runs ({keys.Count} keys)</h3>\n<table><tr><th>key</th>");
            foreach (var run in members)
            {
                html.Append(CultureInfo.InvariantCulture, $"<th>{E(run.Name)}</th>");
            }
            html.Append("</tr>\n");
            foreach (var key in keys)
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><td><code>{E(key)}</code></td>");
                foreach (var f in flat)
                {
                    html.Append(CultureInfo.InvariantCulture, $"<td><code>{E(f.GetValueOrDefault(key, "(absent)"))}</code></td>");
                }
                html.Append("</tr>\n");
            }
            html.Append("</table>\n");
        }
        foreach (var run in runs)
        {
            html.Append(CultureInfo.InvariantCulture, $"<details><summary>{E(run.Name)}: resolved config and manifest</summary>\n<pre>{E(run.Config?.ToJsonString(new() { WriteIndented = true }) ?? "(no config.json)")}</pre>\n<pre>{E(run.Manifest?.ToJsonString(new() { WriteIndented = true }) ?? "(no manifest.json)")}</pre></details>\n");
        }
    }

    private static void Curves(StringBuilder html, List<RunData> runs)
    {
        html.Append("<h2>Curves</h2>\n");
        // Runs of one command share axes (two pretraining recipes, pretrained vs random probes); kinds apart.
        foreach (var group in runs.GroupBy(Command))
        {
            var members = group.ToList();
            html.Append(CultureInfo.InvariantCulture, $"<h3>{E(group.Key)}: {E(string.Join(", ", members.Select(r => r.Name)))}</h3>\n<div class=\"charts\">\n");
            foreach (var chart in RunCharts.For(members))
            {
                html.Append(CultureInfo.InvariantCulture, $"<img alt=\"{E(chart.Name)}\" title=\"{E(chart.Name)}\" width=\"{chart.Width}\" height=\"{chart.Height}\" src=\"{DataUri(chart.ToPng())}\">\n");
            }
            html.Append("</div>\n");
        }
    }

    private static void Pictures(StringBuilder html, List<RunData> runs)
    {
        var pictures = runs.Select(r => (Run: r, Files: LatestPictures(r))).Where(p => p.Files.Count > 0).ToList();
        if (pictures.Count == 0)
        {
            return;
        }
        html.Append("<h2>Reconstructions and masks (latest)</h2>\n");
        foreach (var (run, files) in pictures)
        {
            foreach (var file in files)
            {
                html.Append(CultureInfo.InvariantCulture, $"<h3>{E(run.Name)}: {E(Path.GetFileName(file))}</h3>\n<img class=\"grid\" alt=\"{E(Path.GetFileName(file))}\" src=\"{DataUri(File.ReadAllBytes(file))}\">\n");
            }
        }
    }

    private static void Results(StringBuilder html, List<RunData> runs)
    {
        var withResults = runs.Select(r => (Run: r, Test: ReadResults(r))).Where(p => p.Test is not null).ToList();
        if (withResults.Count == 0)
        {
            return;
        }
        html.Append("<h2>Test results</h2>\n");
        foreach (var (run, test) in withResults)
        {
            var top1 = test!.Bootstrap(1);
            var top5 = test.Bootstrap(5);
            html.Append(CultureInfo.InvariantCulture, $"<h3>{E(run.Name)}</h3>\n<p>{test.Count} test videos ({E(Path.GetRelativePath(run.Directory, test.Path))}): top-1 <b>{top1}</b>, top-5 <b>{top5}</b>");
            if (run.ClassCount > 0)
            {
                html.Append(CultureInfo.InvariantCulture, $"; chance {100.0 / run.ClassCount:F1}%");
            }
            html.Append("</p>\n");
            var names = Enumerable.Range(0, test.ClassCount).Select(c => c < run.ClassNames.Count ? run.ClassNames[c] : c.ToString(CultureInfo.InvariantCulture)).ToList();
            var confusion = new ConfusionMatrixPlot(test.Confusion(), names) { Title = "confusion matrix" };
            html.Append(CultureInfo.InvariantCulture, $"<div class=\"charts\"><img style=\"width:auto;max-width:100%\" alt=\"confusion matrix\" src=\"{DataUri(confusion.ToPng())}\">\n");
            html.Append("<table><tr><th>class</th><th>videos</th><th>top-1</th></tr>\n");
            foreach (var (c, (videos, accuracy)) in test.PerClass().Select((v, c) => (c, v)))
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{c} {E(names[c])}</td><td class=\"num\">{videos}</td><td class=\"num\">{Percent(accuracy)}</td></tr>\n");
            }
            html.Append("</table></div>\n");
            var pairs = confusion.TopConfusionsText(10);
            if (pairs.Length > 0)
            {
                html.Append(CultureInfo.InvariantCulture, $"<details><summary>most confused pairs</summary><pre>{E(pairs)}</pre></details>\n");
            }
        }
    }

    /// <summary>
    /// The latest picture of each kind in plots/: not a chart (charts are saved with an SVG beside them and are
    /// redrawn above from metrics.jsonl), not a step-numbered snapshot.
    /// </summary>
    private static List<string> LatestPictures(RunData run)
    {
        if (!Directory.Exists(run.PlotDir))
        {
            return [];
        }
        return [.. Directory.GetFiles(run.PlotDir, "*.png")
            .Where(f => !File.Exists(Path.ChangeExtension(f, ".svg")) && !SnapshotName().IsMatch(Path.GetFileName(f)))
            .Order(StringComparer.Ordinal)];
    }

    private static TestResults? ReadResults(RunData run)
    {
        foreach (var dir in s_resultDirs)
        {
            var path = Path.Combine(run.Directory, dir, "predictions.csv");
            if (File.Exists(path))
            {
                return TestResults.Read(path, run.ClassCount);
            }
        }
        return null;
    }

    private static Dictionary<string, string> Flatten(JsonObject? config)
    {
        var flat = new Dictionary<string, string>(StringComparer.Ordinal);
        void Walk(JsonNode? node, string prefix)
        {
            if (node is JsonObject o)
            {
                foreach (var (k, v) in o)
                {
                    Walk(v, prefix.Length == 0 ? k : $"{prefix}.{k}");
                }
            }
            else
            {
                flat[prefix] = node?.ToJsonString() ?? "null";
            }
        }
        Walk(config, string.Empty);
        return flat;
    }

    private static string Text(JsonObject? node, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (node?[key] is JsonValue v)
            {
                return v.TryGetValue<string>(out var s) ? s : v.ToJsonString();
            }
        }
        return string.Empty;
    }

    private static string Command(RunData run) => Text(run.Manifest, "command") is { Length: > 0 } c ? c : "run";

    private static string DataUri(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Number(double value) => double.IsFinite(value) ? value.ToString("G4", CultureInfo.InvariantCulture) : "";

    private static string Percent(double value) => double.IsFinite(value) ? (value <= 1 ? value * 100 : value).ToString("F1", CultureInfo.InvariantCulture) + "%" : "";

    private static string Duration(double seconds) => double.IsFinite(seconds) ? TimeSpan.FromSeconds(Math.Round(seconds)).ToString("c", CultureInfo.InvariantCulture) : "";

    [GeneratedRegex(@"-\d{7}\.png$")]
    private static partial Regex SnapshotName();
}
