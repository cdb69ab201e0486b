using VideoSSL.Plots;
using VideoSSL.Training.Logging;

namespace VideoSSL.Tests.Plots;

public sealed class MetricsWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("videossl-metrics-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Lines_keep_key_order_and_write_non_finite_as_null()
    {
        var path = Path.Combine(_dir, "run", "metrics.jsonl");
        using (var metrics = new MetricsWriter(path))
        {
            metrics.Write(("step", 10), ("epoch", 0), ("train/loss", 0.61f), ("opt/lr", 1.2e-4), ("grad_norm", double.NaN), ("note", "warmup"), ("ok", true));
            metrics.Write(("train/loss", float.PositiveInfinity), ("step", 20L));
        }

        var lines = File.ReadAllLines(path);
        Assert.Equal(
            """{"step":10,"epoch":0,"train/loss":0.61,"opt/lr":0.00012,"grad_norm":null,"note":"warmup","ok":true}""",
            lines[0]);
        Assert.Equal("""{"train/loss":null,"step":20}""", lines[1]);

        var records = MetricsLog.Read(path);
        Assert.Equal(2, records.Count);
        Assert.Equal(0.61, records[0].Get("train/loss"), 6);
        Assert.True(double.IsNaN(records[0].Get("grad_norm")));
        Assert.True(records[0].Has("grad_norm"));
        Assert.False(records[0].Has("note"));
    }

    [Fact]
    public void Reader_accepts_non_finite_strings()
    {
        var path = Path.Combine(_dir, "metrics.jsonl");
        File.WriteAllText(path, """{"a":"NaN","b":"Infinity","c":"-Infinity","d":1}""" + "\n");
        var record = Assert.Single(MetricsLog.Read(path));
        Assert.True(double.IsNaN(record.Get("a")));
        Assert.Equal(double.PositiveInfinity, record.Get("b"));
        Assert.Equal(double.NegativeInfinity, record.Get("c"));
    }

    [Fact]
    public void Appending_continues_a_resumed_run()
    {
        var path = Path.Combine(_dir, "metrics.jsonl");
        using (var first = new MetricsWriter(path))
        {
            first.Write(("step", 1));
        }
        using (var second = new MetricsWriter(path))
        {
            second.Write(("step", 2));
        }
        Assert.Equal(["""{"step":1}""", """{"step":2}"""], File.ReadAllLines(path));
    }

    [Fact]
    public void Duplicate_keys_and_unsupported_values_are_rejected()
    {
        using var metrics = new MetricsWriter(Path.Combine(_dir, "metrics.jsonl"));
        Assert.Contains("'step' appears twice", Assert.Throws<ArgumentException>(() => metrics.Write(("step", 1), ("step", 2))).Message);
        Assert.Contains("'when'", Assert.Throws<ArgumentException>(() => metrics.Write(("when", DateTime.UnixEpoch))).Message);
    }
}
