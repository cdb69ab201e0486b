using System.Globalization;
using System.Text;

namespace VideoSSL.Tests.Plots;

/// <summary>A run folder written by hand: metrics lines, config, manifest, classes and test predictions as the CLI writes them.</summary>
internal sealed class TempRun : IDisposable
{
    public TempRun(string name = "run")
    {
        Root = Directory.CreateTempSubdirectory("videossl-plots-").FullName;
        Dir = Path.Combine(Root, name);
        Directory.CreateDirectory(Dir);
    }

    public string Root { get; }
    public string Dir { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    public TempRun Metrics(IEnumerable<string> jsonLines)
    {
        File.WriteAllText(Path.Combine(Dir, "metrics.jsonl"), string.Join('\n', jsonLines) + "\n");
        return this;
    }

    public TempRun WithFile(string relative, string text)
    {
        var path = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return this;
    }

    /// <summary>A pretraining log: lr warms up linearly for <paramref name="warmup"/> steps then decays; loss falls.</summary>
    public static IEnumerable<string> PretrainLines(int steps, int warmup, int stepsPerEpoch, Func<int, double>? loss = null) =>
        Enumerable.Range(1, steps).Select(s =>
        {
            var lr = s <= warmup ? s / (double)warmup * 1e-3 : 1e-3 * (1 - ((s - warmup) / (double)steps));
            return $$"""{"step":{{s}},"epoch":{{(s - 1) / stepsPerEpoch}},"train/loss":{{F(loss?.Invoke(s) ?? (1.0 / s))}},"opt/lr":{{F(lr)}},"opt/grad_norm":{{F(2.0 / s)}},"time":{{s}}}""";
        });

    /// <summary>predictions.csv rows (video,label,pred_1,score_1,...): top-1 = <paramref name="top1"/>[i], the rest follow.</summary>
    public static string Predictions(int[] labels, int[] top1, int classes)
    {
        var text = new StringBuilder("video,label");
        var k = Math.Min(5, classes);
        for (var j = 1; j <= k; j++)
        {
            text.Append(CultureInfo.InvariantCulture, $",pred_{j},score_{j}");
        }
        text.Append('\n');
        for (var i = 0; i < labels.Length; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"\"v{i},x\",{labels[i]}");
            var order = new[] { top1[i] }.Concat(Enumerable.Range(0, classes).Where(c => c != top1[i])).Take(k);
            foreach (var c in order)
            {
                text.Append(CultureInfo.InvariantCulture, $",{c},0.1");
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    public static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
