using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using VideoSSL.Tests.Data;
using VideoSSL.Torch.Serialization;

namespace VideoSSL.Tests.Distributed;

/// <summary>Starts the built CLI (videossl.dll beside the tests) as real processes; every wait is bounded and children are killed.</summary>
internal sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _err = new();

    public CliProcess(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "videossl.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Append(_out, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_err, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private static void Append(StringBuilder sb, string? line)
    {
        if (line is not null)
        {
            lock (sb)
            {
                sb.AppendLine(line);
            }
        }
    }

    public string Out
    {
        get
        {
            lock (_out)
            {
                return _out.ToString();
            }
        }
    }

    public string Err
    {
        get
        {
            lock (_err)
            {
                return _err.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int Id => _process.Id;

    public int Wait(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            throw new TimeoutException($"videossl did not finish within {timeout}; stdout:\n{Out}\nstderr:\n{Err}");
        }
        _process.WaitForExit();  // drains the output
        return _process.ExitCode;
    }

    public void WaitFor(string text, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!Out.Contains(text, StringComparison.Ordinal))
        {
            if (watch.Elapsed > timeout || _process.HasExited)
            {
                throw new TimeoutException($"no '{text}' from videossl; stdout:\n{Out}\nstderr:\n{Err}");
            }
            Thread.Sleep(50);
        }
    }

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static Dictionary<string, string> RankEnv(int rank, int world, int port, double timeoutSeconds) => new()
    {
        ["RANK"] = rank.ToString(CultureInfo.InvariantCulture),
        ["LOCAL_RANK"] = rank.ToString(CultureInfo.InvariantCulture),
        ["WORLD_SIZE"] = world.ToString(CultureInfo.InvariantCulture),
        ["MASTER_ADDR"] = "127.0.0.1",
        ["MASTER_PORT"] = port.ToString(CultureInfo.InvariantCulture),
        ["VIDEOSSL_DIST_TIMEOUT"] = timeoutSeconds.ToString(CultureInfo.InvariantCulture),
    };
}

[Collection(Name)]
public class MultiProcessTests
{
    // The multi-process tests share the two cores; they run one after another.
    public const string Name = "multi-process";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Fact]
    public void Collectives_across_two_processes_through_a_file_store()
    {
        using var dir = new TempDir();
        var store = Path.Combine(dir.Path, "store");
        using var r0 = new CliProcess(null, "dist-selftest", "--file-store", store, "--rank", "0", "--world", "2", "--timeout", "60");
        using var r1 = new CliProcess(null, "dist-selftest", "--file-store", store, "--rank", "1", "--world", "2", "--timeout", "60");
        Assert.Equal(0, r0.Wait(Limit));
        Assert.Equal(0, r1.Wait(Limit));
        foreach (var r in new[] { r0, r1 })
        {
            // Rank r contributes r+1: broadcast takes rank 0's 1s (two dtypes, two buckets), sums are 3, means 1.5.
            Assert.Contains("broadcast 1,1,1,1,1 1,1,1", r.Out);
            Assert.Contains("allreduce sum 3 mean 1.5 grad 1.5,1.5,1.5,1.5", r.Out);
            Assert.Contains("allgather [2,2] 0,0,1,10", r.Out);
        }
        Assert.Contains("barrier rank 0 of 2", r0.Out);
        Assert.Contains("barrier rank 1 of 2", r1.Out);
    }

    [Fact]
    public void Killing_a_rank_makes_the_others_exit_naming_it_within_the_timeout()
    {
        const double timeout = 20;
        // Rank 1 dies (file store, which outlives both): rank 0 names rank 1.
        using (var dir = new TempDir())
        {
            var store = Path.Combine(dir.Path, "store");
            using var r0 = new CliProcess(null, "dist-selftest", "--file-store", store, "--rank", "0", "--world", "2", "--timeout", $"{timeout}", "--loop");
            using var r1 = new CliProcess(null, "dist-selftest", "--file-store", store, "--rank", "1", "--world", "2", "--timeout", $"{timeout}", "--loop");
            r0.WaitFor("looping", Limit);
            r1.WaitFor("looping", Limit);
            var watch = Stopwatch.StartNew();
            r1.Kill();
            Assert.NotEqual(0, r0.Wait(TimeSpan.FromSeconds(timeout + 10)));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(timeout), $"took {watch.Elapsed}");
            Assert.Contains("lost rank 1 of 2", r0.Err);
        }
        // Rank 0 dies (it hosts the TCP store, as under torchrun): rank 1 names rank 0.
        {
            var port = CliProcess.FreePort();
            using var r0 = new CliProcess(CliProcess.RankEnv(0, 2, port, timeout), "dist-selftest", "--loop");
            using var r1 = new CliProcess(CliProcess.RankEnv(1, 2, port, timeout), "dist-selftest", "--loop");
            r0.WaitFor("looping", Limit);
            r1.WaitFor("looping", Limit);
            var watch = Stopwatch.StartNew();
            r0.Kill();
            Assert.NotEqual(0, r1.Wait(TimeSpan.FromSeconds(timeout + 10)));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(timeout), $"took {watch.Elapsed}");
            Assert.Contains("lost rank 0 of 2", r1.Err);
            Assert.DoesNotContain("   at ", r1.Err);  // one line, no stack trace
        }
    }

    private static string[] TinyPretrain(string dataRoot, int batch, int maxSteps) =>
    [
        "pretrain", Path.Combine(RepoPaths.Root, "experiments", "quickstart", "videomae_micro_synth.json"),
        "--set", $"data.root={dataRoot}", "--set", "data.synthetic.classes=2", "--set", "data.synthetic.train_per_class=4",
        "--set", "data.synthetic.val_per_class=1", "--set", "data.synthetic.size=32", "--set", "data.synthetic.frames=8",
        "--set", "data.num_frames=4", "--set", "data.input_size=32", "--set", "model.img_size=32", "--set", "model.frames=4",
        "--set", $"train.batch_size={batch}", "--set", $"train.max_steps={maxSteps}", "--set", "train.warmup_epochs=1",
        "--set", "log.every_steps=1", "--set", "log.checkpoint_every_steps=2", "--set", "log.keep_every_steps=2",
        "--set", "log.reconstruction_every_steps=1000",
    ];

    private static double[] Losses(string run) =>
        [.. File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("train/loss").GetDouble())];

    private static void AssertSameWeights(string expected, string actual, double tolerance)
    {
        var a = Weights.Load(expected);
        var b = Weights.Load(actual);
        try
        {
            var names = a.Keys.Where(k => k.StartsWith("model.", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(names);
            foreach (var name in names)
            {
                var x = a[name].ToArray<float>();
                var y = b[name].ToArray<float>();
                var worst = x.Zip(y, (p, q) => Math.Abs(p - q)).Max();
                Assert.True(worst <= tolerance, $"{name}: differs by {worst}");
            }
        }
        finally
        {
            foreach (var t in a.Values.Concat(b.Values))
            {
                t.Dispose();
            }
        }
    }

    /// <summary>
    /// 1 process × batch 4 vs `launch --nproc 2` × batch 2 for 4 steps (crossing an epoch): same logged loss, same
    /// weights, identical replicas; then the 2-rank step-2 checkpoint resumed on 1 rank (batch 4) ends where both did.
    /// </summary>
    [Fact]
    public void Two_ranks_train_as_one_process_with_twice_the_batch_and_resume_on_one_rank()
    {
        using var dir = new TempDir();
        var data = Path.Combine(dir.Path, "data");
        var one = Path.Combine(dir.Path, "one");
        var two = Path.Combine(dir.Path, "two");
        using (var p = new CliProcess(null, [.. TinyPretrain(data, 4, 4), "--run-dir", one]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Err);
        }
        using (var p = new CliProcess(null, ["launch", "--nproc", "2", "--timeout", "60", "--", .. TinyPretrain(data, 2, 4), "--run-dir", two]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
            Assert.Contains("effective batch 4 (2 x 1 accumulation x 2 ranks)", p.Out);
            Assert.Contains("parameters and buffers identical on all 2 ranks", p.Out);
        }
        var lossOne = Losses(one);
        var lossTwo = Losses(two);
        Assert.Equal(4, lossTwo.Length);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(lossOne[i], lossTwo[i], 5);
        }
        var twoFinal = Path.Combine(dir.Path, "two-final.safetensors");
        File.Copy(Path.Combine(two, "checkpoints", "last.safetensors"), twoFinal);
        AssertSameWeights(Path.Combine(one, "checkpoints", "last.safetensors"), twoFinal, 1e-5);

        // The 2-rank checkpoint at step 2 continues on one process with the same global batch.
        using (var p = new CliProcess(null, [.. TinyPretrain(data, 4, 4), "--resume", Path.Combine(two, "checkpoints", "checkpoint-0000002.safetensors")]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Err);
            Assert.Contains("resumed from", p.Out);
        }
        AssertSameWeights(Path.Combine(one, "checkpoints", "last.safetensors"), Path.Combine(two, "checkpoints", "last.safetensors"), 1e-5);
    }

    // Buckets of 10 KiB: the micro models' gradients span some 25 buckets, so most all-reduces can start during backward.
    private static readonly Dictionary<string, string> TinyBuckets = new() { ["VIDEOSSL_DIST_BUCKET_MB"] = "0.01" };

    // "gradient all-reduce overlapped with backward: B buckets ..., N of M bucket all-reduces started during backward ..."
    private static (long Started, long Total) Overlap(string output)
    {
        var m = System.Text.RegularExpressions.Regex.Match(output, @"(\d+) of (\d+) bucket all-reduces started during backward");
        Assert.True(m.Success, output);
        Assert.DoesNotContain("reduced again", output);
        return (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The gradient all-reduce overlapped with backward (many small buckets): buckets do start during backward (all of
    /// them after the first step, which learns how often each gradient arrives), the weights are bit-identical to the
    /// blocking all-reduce after backward (VIDEOSSL_DIST_OVERLAP=0), and 2 ranks × 2 still train as 1 process × 4.
    /// </summary>
    [Fact]
    public void Overlapped_gradient_all_reduce_starts_during_backward_and_equals_the_blocking_one()
    {
        using var dir = new TempDir();
        var data = Path.Combine(dir.Path, "data");
        var (one, on, off) = (Path.Combine(dir.Path, "one"), Path.Combine(dir.Path, "on"), Path.Combine(dir.Path, "off"));
        using (var p = new CliProcess(null, [.. TinyPretrain(data, 4, 4), "--run-dir", one]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Err);
        }
        using (var p = new CliProcess(TinyBuckets, ["launch", "--nproc", "2", "--timeout", "60", "--", .. TinyPretrain(data, 2, 4), "--run-dir", on]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
            var (started, total) = Overlap(p.Out);
            Assert.True(total >= 4 * 10, p.Out);
            Assert.Equal(total * 3 / 4, started);  // steps 2-4: every bucket
        }
        using (var p = new CliProcess(new Dictionary<string, string>(TinyBuckets) { ["VIDEOSSL_DIST_OVERLAP"] = "0" }, ["launch", "--nproc", "2", "--timeout", "60", "--", .. TinyPretrain(data, 2, 4), "--run-dir", off]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
            Assert.Contains("gradient all-reduce after backward", p.Out);
        }
        AssertSameWeights(Path.Combine(off, "checkpoints", "last.safetensors"), Path.Combine(on, "checkpoints", "last.safetensors"), 0);
        AssertSameWeights(Path.Combine(one, "checkpoints", "last.safetensors"), Path.Combine(on, "checkpoints", "last.safetensors"), 1e-5);
    }

    /// <summary>
    /// The overlap where backward is several calls per step or gradients accumulate: with activation checkpointing the
    /// blocks' gradients arrive in later backward calls than the loss's (the patch embedding's last); with
    /// accum_steps=2 only the last micro-batch's backward reduces. Either way 2 ranks × B train as 1 process × 2B.
    /// </summary>
    [Theory]
    [InlineData("model.grad_checkpointing=true", 4)]
    [InlineData("train.accum_steps=2", 2)]
    public void Overlapped_gradient_all_reduce_with_checkpointing_or_accumulation_trains_as_one_process(string key, int batch)
    {
        using var dir = new TempDir();
        var data = Path.Combine(dir.Path, "data");
        var (one, two) = (Path.Combine(dir.Path, "one"), Path.Combine(dir.Path, "two"));
        using (var p = new CliProcess(null, [.. TinyPretrain(data, batch, 4), "--set", key, "--run-dir", one]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Err);
        }
        using (var p = new CliProcess(TinyBuckets, ["launch", "--nproc", "2", "--timeout", "60", "--", .. TinyPretrain(data, batch / 2, 4), "--set", key, "--run-dir", two]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
            Assert.Contains("parameters and buffers identical on all 2 ranks", p.Out);
            var (started, total) = Overlap(p.Out);
            Assert.Equal(total * 3 / 4, started);
        }
        var (lossOne, lossTwo) = (Losses(one), Losses(two));
        Assert.Equal(4, lossTwo.Length);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(lossOne[i], lossTwo[i], 5);
        }
        AssertSameWeights(Path.Combine(one, "checkpoints", "last.safetensors"), Path.Combine(two, "checkpoints", "last.safetensors"), 1e-5);
    }

    /// <summary>
    /// SIGTERM reaching one rank only (a user's kill, a node's preemption): every rank stops after the same step, rank 0
    /// writes the checkpoint, nobody waits for a collective the stopped rank will never join.
    /// </summary>
    [Fact]
    public void A_stop_signal_to_one_rank_stops_every_rank_at_the_same_step()
    {
        using var dir = new TempDir();
        var data = Path.Combine(dir.Path, "data");
        var run = Path.Combine(dir.Path, "run");
        var port = CliProcess.FreePort();
        string[] args = [.. TinyPretrain(data, 2, 100000), "--set", "train.epochs=50000", "--run-dir", run];
        using var r0 = new CliProcess(CliProcess.RankEnv(0, 2, port, 60), args);
        using var r1 = new CliProcess(CliProcess.RankEnv(1, 2, port, 60), args);
        r0.WaitFor("] [3/100000]", Limit);
        using (var kill = Process.Start("kill", ["-TERM", r1.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }
        Assert.Equal(143, r1.Wait(Limit));
        Assert.True(r0.Wait(Limit) == 0, r0.Out + r0.Err);
        Assert.Contains("rank 0: stopping after step", r0.Out);
        Assert.Contains("resume with:", r0.Out);
        Assert.DoesNotContain("lost rank", r0.Err);
        var steps = Losses(run).Length;
        Assert.True(File.Exists(Path.Combine(run, "checkpoints", "last.safetensors")));
        Assert.Contains($"stopping after step {steps} ", r0.Out);
    }

    private static string[] TinySvt(int batch, int maxSteps) =>
    [
        "pretrain", Path.Combine(RepoPaths.Root, "experiments", "quickstart", "svt_micro_synth.json"),
        "--set", "data.format=procedural", "--set", "data.procedural.clips=8", "--set", "data.procedural.size=32",
        "--set", "data.procedural.frames=16", "--set", "data.procedural.classes=3",
        "--set", "data.input_size=32", "--set", "model.img_size=32", "--set", "model.drop_path=0",
        "--set", "svt.out_dim=64", "--set", "svt.hidden_dim=32", "--set", "svt.bottleneck_dim=16",
        "--set", "svt.global_frames=[4, 2]", "--set", "svt.global_size=32", "--set", "svt.local_frames=[2, 2]", "--set", "svt.local_size=16",
        "--set", $"train.batch_size={batch}", "--set", $"train.max_steps={maxSteps}", "--set", "train.warmup_epochs=0",
        "--set", "log.every_steps=1", "--set", "log.checkpoint_every_steps=100", "--set", "log.reconstruction_every_steps=1000",
    ];

    /// <summary>
    /// SVT's centre is a statistic of the global batch (DINOLoss.update_center all-reduces it): 2 ranks × 2 clips
    /// train as 1 process × 4, centre and teacher included, and the replicas' centres stay identical.
    /// </summary>
    [Fact]
    public void Two_ranks_of_svt_train_as_one_process_with_twice_the_batch()
    {
        using var dir = new TempDir();
        var one = Path.Combine(dir.Path, "one");
        var two = Path.Combine(dir.Path, "two");
        using (var p = new CliProcess(null, [.. TinySvt(4, 3), "--run-dir", one]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
        }
        using (var p = new CliProcess(null, ["launch", "--nproc", "2", "--timeout", "60", "--", .. TinySvt(2, 3), "--run-dir", two]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
            Assert.Contains("parameters and buffers identical on all 2 ranks", p.Out);
        }
        var lossOne = Losses(one);
        var lossTwo = Losses(two);
        Assert.Equal(3, lossTwo.Length);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(lossOne[i], lossTwo[i], 5);
        }
        // AdamW divides by √v: summing the loss in another order moves near-zero gradients' steps by up to ~1e-5 here.
        AssertSameWeights(Path.Combine(one, "checkpoints", "last.safetensors"), Path.Combine(two, "checkpoints", "last.safetensors"), 1e-4);
        using var centreOne = Weights.Load(Path.Combine(one, "checkpoints", "last.safetensors"))["model.dino_loss.center"];
        using var centreTwo = Weights.Load(Path.Combine(two, "checkpoints", "last.safetensors"))["model.dino_loss.center"];
        var worst = centreOne.ToArray<float>().Zip(centreTwo.ToArray<float>(), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-6, $"centre differs by {worst}");
    }

    /// <summary>
    /// SVT with activation checkpointing: the student runs on each size of global view and on the local views, one
    /// checkpointed segment each, so each block's gradient arrives in several backward calls per step. The overlapped reducer waits for both (it learns
    /// that in the first step) and the weights are bit-identical to the all-reduce after backward.
    /// </summary>
    [Fact]
    public void Overlapped_gradient_all_reduce_waits_for_a_block_used_in_several_checkpointed_segments()
    {
        using var dir = new TempDir();
        var (on, off) = (Path.Combine(dir.Path, "on"), Path.Combine(dir.Path, "off"));
        using (var p = new CliProcess(TinyBuckets, ["launch", "--nproc", "2", "--timeout", "60", "--", .. TinySvt(2, 3), "--set", "model.grad_checkpointing=true", "--run-dir", on]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
            var (started, total) = Overlap(p.Out);
            Assert.Equal(total * 2 / 3, started);
            // Global views of 4 and 2 frames and the local views: three segments here.
            var calls = System.Text.RegularExpressions.Regex.Match(p.Out, @"a parameter's gradient came in up to (\d+) backward calls per step");
            Assert.True(calls.Success && int.Parse(calls.Groups[1].Value, CultureInfo.InvariantCulture) >= 2, p.Out);
        }
        using (var p = new CliProcess(new Dictionary<string, string>(TinyBuckets) { ["VIDEOSSL_DIST_OVERLAP"] = "0" }, ["launch", "--nproc", "2", "--timeout", "60", "--", .. TinySvt(2, 3), "--set", "model.grad_checkpointing=true", "--run-dir", off]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
        }
        AssertSameWeights(Path.Combine(off, "checkpoints", "last.safetensors"), Path.Combine(on, "checkpoints", "last.safetensors"), 0);
    }

    // 3 classes: 12 training videos, 3 validation videos (2 ranks: one padding duplicate); 32 px, 4 frames, one thread per rank.
    private static string[] TinyEvalRun(string verb, string config, string dataRoot, string runDir, params string[] keys) =>
    [
        verb, Path.Combine(RepoPaths.Root, "experiments", "quickstart", config), "--run-dir", runDir,
        .. ((string[])
        [
            $"data.root={dataRoot}", "data.synthetic.classes=3", "data.synthetic.train_per_class=4", "data.synthetic.val_per_class=1",
            "data.synthetic.size=32", "data.synthetic.frames=8", "data.num_frames=4", "data.input_size=32", "model.img_size=32", "model.frames=4",
            "train.threads=1", "test.clips=1", "test.crops=1", "test.batch_size=2", .. keys,
        ]).SelectMany(k => new[] { "--set", k }),
    ];

    private static List<System.Text.Json.JsonElement> MetricLines(string run) =>
        [.. File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)];

    // predictions.csv: the same videos, labels and ranked classes; scores to 1e-5 (the ranks encode other batch compositions).
    private static void AssertSamePredictions(string expected, string actual)
    {
        var a = File.ReadAllLines(expected);
        var b = File.ReadAllLines(actual);
        Assert.Equal(a.Length, b.Length);
        Assert.Equal(a[0], b[0]);
        for (var i = 1; i < a.Length; i++)
        {
            var (x, y) = (a[i].Split(','), b[i].Split(','));
            Assert.Equal(x.Length, y.Length);
            for (var j = 0; j < x.Length; j++)
            {
                if (j >= 3 && j % 2 == 1)
                {
                    Assert.Equal(double.Parse(x[j], CultureInfo.InvariantCulture), double.Parse(y[j], CultureInfo.InvariantCulture), 1e-5);
                }
                else
                {
                    Assert.Equal(x[j], y[j]);
                }
            }
        }
    }

    /// <summary>
    /// `finetune`: 1 process × batch 4 vs 2 ranks × batch 2 for 2 epochs of 3 steps (validating after each, random
    /// erasing and two views per video on): same losses, validations, weights and test predictions; identical replicas;
    /// then the 2-rank checkpoint after epoch 0 resumed on 1 process ends where both did.
    /// </summary>
    [Fact]
    public void Two_ranks_finetune_as_one_process_with_twice_the_batch()
    {
        using var dir = new TempDir();
        var data = Path.Combine(dir.Path, "data");
        var one = Path.Combine(dir.Path, "one");
        var two = Path.Combine(dir.Path, "two");
        string[] Finetune(string run, int batch) => TinyEvalRun("finetune", "finetune_micro_synth.json", data, run,
            $"train.batch_size={batch}", "train.epochs=2", "train.warmup_epochs=1", "model.drop_path=0", "aug.mixup=0", "aug.cutmix=0",
            "aug.reprob=0.5", "aug.num_sample=2", "log.every_steps=1", "log.checkpoint_every_steps=100", "log.keep_every_steps=3");
        using (var p = new CliProcess(null, Finetune(one, 4)))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
        }
        using (var p = new CliProcess(null, ["launch", "--nproc", "2", "--timeout", "60", "--", .. Finetune(two, 2)]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
            Assert.Contains("effective batch 4 (2 x 1 accumulation x 2 ranks)", p.Out);
            Assert.Contains("parameters and buffers identical on all 2 ranks", p.Out);
        }
        var (linesOne, linesTwo) = (MetricLines(one), MetricLines(two));
        Assert.Equal(linesOne.Count, linesTwo.Count);
        var compared = 0;
        for (var i = 0; i < linesOne.Count; i++)
        {
            foreach (var key in new[] { "train/loss", "opt/lr", "val/loss", "val/acc1", "train/acc1" })
            {
                if (linesOne[i].TryGetProperty(key, out var x))
                {
                    // An absolute bound: rounding to 5 decimals fails on values that straddle a rounding boundary.
                    Assert.Equal(x.GetDouble(), linesTwo[i].GetProperty(key).GetDouble(), 1e-5);
                    compared++;
                }
            }
        }
        Assert.True(compared >= (6 * 2) + (2 * 3), $"compared {compared} values");
        var twoFinal = Path.Combine(dir.Path, "two-final.safetensors");
        File.Copy(Path.Combine(two, "checkpoints", "last.safetensors"), twoFinal);
        AssertSameWeights(Path.Combine(one, "checkpoints", "last.safetensors"), twoFinal, 1e-5);
        AssertSamePredictions(Path.Combine(one, "test", "predictions.csv"), Path.Combine(two, "test", "predictions.csv"));

        // The 2-rank checkpoint after the first epoch continues on one process with the same global batch.
        using (var p = new CliProcess(null, [.. Finetune(two, 4), "--resume", Path.Combine(two, "checkpoints", "checkpoint-0000003.safetensors")]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
            Assert.Contains("resumed from", p.Out);
        }
        AssertSameWeights(Path.Combine(one, "checkpoints", "last.safetensors"), Path.Combine(two, "checkpoints", "last.safetensors"), 1e-5);
    }

    /// <summary>`probe` (cached features) on 2 ranks: the shards' features gathered in order give one process's probe and predictions.</summary>
    [Fact]
    public void A_probe_on_two_ranks_gives_the_predictions_of_one_process()
    {
        using var dir = new TempDir();
        var data = Path.Combine(dir.Path, "data");
        var one = Path.Combine(dir.Path, "one");
        var two = Path.Combine(dir.Path, "two");
        string[] Probe(string run) => TinyEvalRun("probe", "probe_linear_micro_synth.json", data, run, "train.epochs=3", "train.batch_size=4", "train.warmup_epochs=1");
        using (var p = new CliProcess(null, Probe(one)))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
        }
        using (var p = new CliProcess(null, ["launch", "--nproc", "2", "--timeout", "60", "--", .. Probe(two)]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
        }
        double Acc1(string run) => System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "test", "metrics.json"))).RootElement.GetProperty("top1").GetDouble();
        Assert.Equal(Acc1(one), Acc1(two));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(two, "test", "predictions.csv")).Length);  // header + 3 videos, no padding duplicate
        AssertSamePredictions(Path.Combine(one, "test", "predictions.csv"), Path.Combine(two, "test", "predictions.csv"));
        // Live features would need the head trained data-parallel: refused in one line.
        using (var p = new CliProcess(null, ["launch", "--nproc", "2", "--timeout", "60", "--", .. Probe(Path.Combine(dir.Path, "live")), "--set", "probe.cache_features=false"]))
        {
            Assert.NotEqual(0, p.Wait(Limit));
            Assert.Contains("probe.cache_features = false", p.Err);
            Assert.DoesNotContain("   at ", p.Err);
        }
    }

    /// <summary>`eval` on 2 ranks (3 videos: one padding duplicate) writes the predictions.csv of one process.</summary>
    [Fact]
    public void Eval_on_two_ranks_gathers_the_predictions_of_one_process()
    {
        using var dir = new TempDir();
        string[] keys =
        [
            "model.img_size=32", "model.frames=4", "model.num_classes=3", "model.drop_path=0", "data.num_frames=4", "data.input_size=32",
            $"data.root={Path.Combine(dir.Path, "data")}", "data.synthetic.classes=3", "data.synthetic.train_per_class=1",
            "data.synthetic.val_per_class=1", "data.synthetic.size=32", "data.synthetic.frames=8",
            "test.clips=2", "test.crops=1", "test.batch_size=1",
        ];
        var configPath = Path.Combine(RepoPaths.Root, "experiments", "quickstart", "finetune_micro_synth.json");
        var config = VideoSSL.Training.Config.ConfigLoader.Load<VideoSSL.Training.Config.FinetuneConfig>(configPath, keys);
        var checkpoint = Path.Combine(dir.Path, "run", "checkpoints", "ft.safetensors");
        VideoSSL.Torch.Torch.ManualSeed(3);
        using (var model = new VideoSSL.Models.VideoViTClassifier(VideoSSL.Training.Evaluation.EvalSetup.ModelConfig(config.Model), 3))
        {
            VideoSSL.Training.Checkpoint.Save(checkpoint, model, null, new VideoSSL.Training.TrainerState(0, 0, 0, 0, 0, "{}"));
        }
        string[] Eval(string outDir) => ["eval", configPath, "--checkpoint", checkpoint, "--out", outDir, .. keys.SelectMany(k => new[] { "--set", k })];
        var one = Path.Combine(dir.Path, "one");
        var two = Path.Combine(dir.Path, "two");
        using (var p = new CliProcess(null, Eval(one)))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
        }
        using (var p = new CliProcess(null, ["launch", "--nproc", "2", "--timeout", "60", "--", .. Eval(two)]))
        {
            Assert.True(p.Wait(Limit) == 0, p.Out + p.Err);
        }
        var expected = File.ReadAllText(Path.Combine(one, "predictions.csv"));
        Assert.Equal(4, expected.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);  // header + 3 videos
        Assert.Equal(expected, File.ReadAllText(Path.Combine(two, "predictions.csv")));
        // The padding duplicate is not counted in the loss either.
        double Loss(string d) => System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(d, "metrics.json"))).RootElement.GetProperty("loss").GetDouble();
        Assert.Equal(Loss(one), Loss(two), 6);
    }
}

[CollectionDefinition(MultiProcessTests.Name, DisableParallelization = true)]
public class MultiProcessCollection
{
}
