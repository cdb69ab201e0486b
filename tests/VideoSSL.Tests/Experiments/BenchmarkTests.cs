using System.Text.Json;
using VideoSSL.Cli;
using VideoSSL.Data.Synthetic;
using VideoSSL.Tests.EvaluationRuns;
using VideoSSL.Training.Config;

namespace VideoSSL.Tests.Experiments;

/// <summary>
/// `videossl benchmark` end to end at a tiny size (the shipped VideoMAE recipe shrunk to one step, two classes, a few
/// clips): the table has every probe for both encoders on both sets, and the results are written. No gain is asserted.
/// </summary>
[Collection(VideoSSL.Tests.Torch.LiveTensorCollection.Name)]
public class BenchmarkTests
{
    // The tiny scale every benchmark test runs at: micro models at 32 px, a few clips per class, one probe epoch.
    private static BenchmarkOptions Tiny(string root, string method = "videomae") => new()
    {
        Methods = [method],
        RunDir = Path.Combine(root, "run"),
        Minutes = 5,
        RecipeDir = Path.Combine(ExperimentConfigTests.ExperimentsDir(), "quickstart"),
        Overrides = [.. TinyRealData.ModelKeys, .. TinyRealData.PretrainKeys, "data.procedural.clips=4", "data.procedural.size=32"],
        DataRoot = Path.Combine(root, "nuisance"),
        Data = new NuisanceDatasetOptions { Classes = 2, TrainPerClass = 3, DevPerClass = 1, TestPerClass = 2, Size = 32, Frames = 8 },
        TransferRoot = Path.Combine(root, "transfer"),
        Transfer = new NuisanceDatasetOptions { Classes = 2, TrainPerClass = 2, DevPerClass = 1, TestPerClass = 1, Size = 32, Frames = 8, Stats = NuisanceStats.Transfer, Seed = 5 },
        LinearEpochs = 1,
        AttentiveEpochs = 1,
        LinearLr = [0.5],
        LinearWd = [0.0],
        AttentiveLr = [1e-3],
        KnnK = [1],
        ProbeSeeds = 1,
        Workers = 1,
    };

    [Fact]
    public void Benchmark_runs_end_to_end_and_writes_its_table()
    {
        var root = Directory.CreateTempSubdirectory("vssl-benchmark-").FullName;
        try
        {
            var options = Tiny(root) with { LinearWd = [0.0, 0.05], KnnK = [1, 200] };
            var output = new StringWriter();
            var results = BenchmarkCommand.Run(options, output);

            var r = Assert.Single(results);
            Assert.Equal(1, r.Steps);
            foreach (var cells in new[] { r.Random, r.Pretrained, r.TransferRandom, r.TransferPretrained })
            {
                Assert.Equal(["attentive", "knn", "linear"], cells.Keys.Order(StringComparer.Ordinal));
                Assert.All(cells.Values, c => Assert.InRange(c.Top1, c.Low, c.High));
            }
            var table = File.ReadAllText(Path.Combine(options.RunDir, "benchmark.md"));
            Assert.Contains("| method | set | encoder | linear | attentive | kNN | pretraining |", table, StringComparison.Ordinal);
            Assert.Equal(4, table.Split('\n').Count(l => l.StartsWith("| videomae |", StringComparison.Ordinal)));
            Assert.Contains("frame-level check", table, StringComparison.Ordinal);
            Assert.Contains(table, output.ToString(), StringComparison.Ordinal);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(options.RunDir, "benchmark.json")));
            var method = json.RootElement.GetProperty("methods")[0];
            Assert.Equal("videomae", method.GetProperty("method").GetString());
            Assert.True(method.GetProperty("pretrained").GetProperty("attentive").TryGetProperty("top1", out _));
            Assert.True(File.Exists(Path.Combine(options.RunDir, "videomae", "test", "pretrained", "knn", "predictions.csv")));
            Assert.True(File.Exists(Path.Combine(options.RunDir, "videomae", "pretrain", "checkpoints", "last.safetensors")));

            // --reuse probes the same checkpoint again with another grid: no second pretraining (the run folder's lock
            // would refuse one), the pretraining figures carried over from pretraining.json.
            var metrics = File.ReadAllText(Path.Combine(options.RunDir, "videomae", "pretrain", "metrics.jsonl"));
            var again = new StringWriter();
            var reused = Assert.Single(BenchmarkCommand.Run(options with { Reuse = true, AttentiveLr = [3e-3] }, again));
            Assert.Contains("reusing", again.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("== videomae: pretraining", again.ToString(), StringComparison.Ordinal);
            Assert.Equal((r.Steps, r.FinalLoss, r.WallSeconds), (reused.Steps, reused.FinalLoss, reused.WallSeconds));
            Assert.Equal("lr 0.003, wd 0.01", reused.Pretrained["attentive"].Chosen);
            Assert.Equal(metrics, File.ReadAllText(Path.Combine(options.RunDir, "videomae", "pretrain", "metrics.jsonl")));

            // --probe-seeds 3: three heads per grid point; the first keeps the seed (its predictions are the one-head
            // run's), the figure is the mean of the three, and the one-head cache of the random encoder is not read.
            var attentiveDir = Path.Combine(options.RunDir, "videomae", "test", "pretrained", "attentive");
            var oneHead = File.ReadAllText(Path.Combine(attentiveDir, "predictions.csv"));
            var threeOutput = new StringWriter();
            var three = Assert.Single(BenchmarkCommand.Run(options with { Reuse = true, AttentiveLr = [3e-3], ProbeSeeds = 3 }, threeOutput));
            Assert.Equal("lr 0.003, wd 0.01, mean of 3 heads", three.Pretrained["attentive"].Chosen);
            Assert.Equal(oneHead, File.ReadAllText(Path.Combine(attentiveDir, "predictions.csv")));
            var heads = new[] { "predictions.csv", "predictions-head-1.csv", "predictions-head-2.csv" }
                .Select(f => VideoSSL.Plots.TestResults.Read(Path.Combine(attentiveDir, f)).Top1).ToList();
            Assert.Equal(heads.Average(), three.Pretrained["attentive"].Top1, 12);
            Assert.InRange(three.Pretrained["attentive"].Top1, three.Pretrained["attentive"].Low, three.Pretrained["attentive"].High);
            Assert.DoesNotContain("random: from", threeOutput.ToString(), StringComparison.Ordinal);
            Assert.Contains("mean of 3 heads per grid point", File.ReadAllText(Path.Combine(options.RunDir, "benchmark.md")), StringComparison.Ordinal);
            using (var threeJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(options.RunDir, "benchmark.json"))))
            {
                Assert.Equal(3, threeJson.RootElement.GetProperty("probe_seeds").GetInt32());
            }
            // Every head's predictions go to and come back from the random encoder's cache; a one-head run leaves no
            // head files of the three-head run behind.
            var randomAttentive = Path.Combine(options.RunDir, "videomae", "test", "random", "attentive");
            var randomHeads = Directory.GetFiles(randomAttentive, "predictions*.csv").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(["predictions-head-1.csv", "predictions-head-2.csv", "predictions.csv"], randomHeads);
            var cachedOutput = new StringWriter();
            BenchmarkCommand.Run(options with { Reuse = true, AttentiveLr = [3e-3], ProbeSeeds = 3 }, cachedOutput);
            Assert.Contains("test random: from", cachedOutput.ToString(), StringComparison.Ordinal);
            Assert.Equal(randomHeads, Directory.GetFiles(randomAttentive, "predictions*.csv").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
            BenchmarkCommand.Run(options with { Reuse = true, AttentiveLr = [3e-3] }, TextWriter.Null);
            Assert.Empty(Directory.GetFiles(attentiveDir, "predictions-head-*.csv"));
            Assert.Empty(Directory.GetFiles(randomAttentive, "predictions-head-*.csv"));
            Assert.NotEqual(0, VideoSSL.Data.Loading.Seeds.ForRepeat(0, 1));
            Assert.Equal(7, VideoSSL.Data.Loading.Seeds.ForRepeat(7, 0));

            var other = Assert.Throws<ConfigException>(() => BenchmarkCommand.Run(options with { Reuse = true, Overrides = ["model.patch=4"] }, TextWriter.Null));
            Assert.Contains("was pretrained with --set", other.Message, StringComparison.Ordinal);
            // The encoder a reuse rebuilds comes from the recipe: one from another folder (--recipes) is refused.
            var copies = Directory.CreateDirectory(Path.Combine(root, "recipes")).FullName;
            File.Copy(BenchmarkCommand.Recipe(options.RecipeDir, "videomae"), BenchmarkCommand.Recipe(copies, "videomae"));
            var elsewhere = Assert.Throws<ConfigException>(() => BenchmarkCommand.Run(options with { Reuse = true, RecipeDir = copies }, TextWriter.Null));
            Assert.Equal($"--reuse: videomae in {options.RunDir} was pretrained from {BenchmarkCommand.Recipe(options.RecipeDir, "videomae")}; give --recipes {options.RecipeDir}", elsewhere.Message);
            var missing = Assert.Throws<ConfigException>(() => BenchmarkCommand.Run(options with { Reuse = true, RunDir = Path.Combine(root, "none") }, TextWriter.Null));
            Assert.Contains("pretraining.json", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // --seeds 0,1: the whole benchmark once per seed into RUN/seed-N, each seed the pretraining's (replacing the recipe's)
    // as well as the random encoder's and the probes'; RUN/benchmark.md holds the mean gain over seeds.
    [Fact]
    public void Several_seeds_pretrain_with_their_own_seed_and_report_the_mean_gain()
    {
        var root = Directory.CreateTempSubdirectory("vssl-benchmark-seeds-").FullName;
        try
        {
            var options = Tiny(root);
            var output = new StringWriter();
            var perSeed = BenchmarkCommand.RunSeeds(options, [0, 1], output);

            Assert.Equal(2, perSeed.Count);
            foreach (var seed in new long[] { 0, 1 })
            {
                var dir = BenchmarkCommand.SeedDir(options.RunDir, seed);
                Assert.True(File.Exists(Path.Combine(dir, "benchmark.md")));
                using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "videomae", "pretrain", "config.json")));
                Assert.Equal(seed, config.RootElement.GetProperty("seed").GetInt64());
                using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "videomae", "pretraining.json")));
                Assert.Equal(seed, summary.RootElement.GetProperty("Seed").GetInt64());
            }
            Assert.NotEqual(File.ReadAllBytes(Path.Combine(BenchmarkCommand.SeedDir(options.RunDir, 0), "videomae", "pretrain", "checkpoints", "last.safetensors")),
                File.ReadAllBytes(Path.Combine(BenchmarkCommand.SeedDir(options.RunDir, 1), "videomae", "pretrain", "checkpoints", "last.safetensors")));

            var table = File.ReadAllText(Path.Combine(options.RunDir, "benchmark.md"));
            Assert.Contains("mean over seeds 0, 1", table, StringComparison.Ordinal);
            var rows = table.Split('\n').Where(l => l.StartsWith("| videomae |", StringComparison.Ordinal)).ToList();
            Assert.Equal(6, rows.Count);
            var attentive = Assert.Single(rows, l => l.StartsWith("| videomae | nuisance | attentive |", StringComparison.Ordinal));
            var gains = perSeed.Select(r => r[0].Pretrained["attentive"].Top1 - r[0].Random["attentive"].Top1).ToList();
            var inv = System.Globalization.CultureInfo.InvariantCulture;
            Assert.Contains($"| {(gains.Average() * 100).ToString("+0.0;-0.0", inv)} [", attentive, StringComparison.Ordinal);
            Assert.Contains(string.Join(", ", gains.Select(g => (g * 100).ToString("+0.0;-0.0", inv))), attentive, StringComparison.Ordinal);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(options.RunDir, "benchmark.json")));
            var gain = json.RootElement.GetProperty("methods")[0].GetProperty("sets")[0].GetProperty("probes")[1].GetProperty("gain");
            Assert.Equal(gains.Average(), gain.GetProperty("mean").GetDouble(), 12);
            Assert.Equal(2, gain.GetProperty("count").GetInt32());

            // A second benchmark with the same encoder shape, seed, labeled set and grids reads the random encoder's
            // probes from the cache: the same figures, no second probing.
            var cachedOutput = new StringWriter();
            var second = Assert.Single(BenchmarkCommand.Run(options with { Seed = 1, RunDir = Path.Combine(root, "again") }, cachedOutput));
            Assert.Contains("test random: from ", cachedOutput.ToString(), StringComparison.Ordinal);
            Assert.Contains("transfer random: from ", cachedOutput.ToString(), StringComparison.Ordinal);
            Assert.Equal(perSeed[1][0].Random, second.Random);
            Assert.Equal(perSeed[1][0].TransferRandom, second.TransferRandom);
            Assert.Equal(perSeed[1][0].Pretrained["attentive"], second.Pretrained["attentive"]);
            Assert.True(File.Exists(Path.Combine(root, "again", "videomae", "test", "random", "attentive", "predictions.csv")));
            // Another grid is another key: probed again.
            var otherGrid = new StringWriter();
            BenchmarkCommand.Run(options with { Seed = 1, Reuse = true, RunDir = Path.Combine(root, "again"), AttentiveLr = [3e-3] }, otherGrid);
            Assert.DoesNotContain("random: from ", otherGrid.ToString(), StringComparison.Ordinal);

            // A seed from --set would pretrain with another seed than the random encoder's: refused, as is reusing a
            // seed's checkpoint under another seed.
            var set = Assert.Throws<ConfigException>(() => BenchmarkCommand.Run(options with { Overrides = [.. options.Overrides, "seed=3"], RunDir = Path.Combine(root, "other") }, TextWriter.Null));
            Assert.Contains("--seed", set.Message, StringComparison.Ordinal);
            var reuse = Assert.Throws<ConfigException>(() => BenchmarkCommand.Run(options with { Reuse = true, Seed = 0, RunDir = BenchmarkCommand.SeedDir(options.RunDir, 1) }, TextWriter.Null));
            Assert.Contains("pretrained with seed 1", reuse.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // `videossl data nuisance --transfer` writes the benchmark's transfer set by default: its counts and its seed.
    [Fact]
    public void Data_nuisance_transfer_defaults_to_the_benchmarks_transfer_set()
    {
        var root = Directory.CreateTempSubdirectory("vssl-nuisance-transfer-").FullName;
        try
        {
            var transfer = Path.Combine(root, "transfer");
            Assert.Equal(0, DataCommand.Create().Parse(["nuisance", "--out", transfer, "--transfer", "--classes", "1", "--size", "16", "--frames", "4"]).Invoke());
            var expected = new BenchmarkOptions { Methods = [], RunDir = root }.Transfer;
            using (var stamp = JsonDocument.Parse(File.ReadAllText(Path.Combine(transfer, NuisanceDatasetWriter.StampFile))))
            {
                var options = stamp.RootElement.GetProperty("options");
                Assert.Equal(expected.TrainPerClass, options.GetProperty("TrainPerClass").GetInt32());
                Assert.Equal(expected.DevPerClass, options.GetProperty("DevPerClass").GetInt32());
                Assert.Equal(expected.TestPerClass, options.GetProperty("TestPerClass").GetInt32());
                Assert.Equal(expected.Seed, options.GetProperty("Seed").GetInt32());
            }
            Assert.Equal(expected.TestPerClass, File.ReadAllLines(Path.Combine(NuisanceDatasetWriter.KineticsDir(transfer), "test.csv")).Length - 1);

            // Given counts and seed still win.
            var plain = Path.Combine(root, "plain");
            Assert.Equal(0, DataCommand.Create().Parse(["nuisance", "--out", plain, "--transfer", "--classes", "1", "--train-per-class", "1", "--dev-per-class", "1", "--test-per-class", "1", "--seed", "3", "--size", "16", "--frames", "4"]).Invoke());
            using var given = JsonDocument.Parse(File.ReadAllText(Path.Combine(plain, NuisanceDatasetWriter.StampFile)));
            Assert.Equal(1, given.RootElement.GetProperty("options").GetProperty("TrainPerClass").GetInt32());
            Assert.Equal(3, given.RootElement.GetProperty("options").GetProperty("Seed").GetInt32());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_mean_over_seeds_has_a_student_t_interval()
    {
        var m = VideoSSL.Plots.SeedMean.Of([1.0, 2.0, 3.0]);
        Assert.Equal(2.0, m.Mean, 12);
        Assert.Equal(1.0, m.StdDev, 12);
        // t(0.975, 2 degrees of freedom) = 4.302653; half-width 4.302653 * 1 / sqrt(3).
        Assert.Equal(2.0 - 4.302653 / Math.Sqrt(3), m.Low, 5);
        Assert.Equal(2.0 + 4.302653 / Math.Sqrt(3), m.High, 5);
        var one = VideoSSL.Plots.SeedMean.Of([0.5]);
        Assert.Equal(0.5, one.Mean);
        Assert.True(double.IsNaN(one.Low) && double.IsNaN(one.High));
    }

    // --ceiling: the shipped scratch fine-tune recipe, shrunk to one epoch of the tiny labeled split, runs through `videossl
    // finetune`'s entry point into RUN/scratch/, and its test top-1 with an interval lands in benchmark.md and .json.
    [Fact]
    public void Ceiling_adds_the_supervised_line_to_the_table_and_the_json()
    {
        var root = Directory.CreateTempSubdirectory("vssl-benchmark-ceiling-").FullName;
        try
        {
            var options = Tiny(root) with
            {
                Ceiling = true,
                CeilingOverrides = [.. TinyRealData.ModelKeys, "model.embed_dim=0", "model.depth=0", "model.num_heads=0", "train.epochs=1", "train.batch_size=2",
                    "train.warmup_epochs=0", "test.batch_size=2", "log.every_steps=1"],
            };
            var output = new StringWriter();
            BenchmarkCommand.Run(options, output);

            var table = File.ReadAllText(Path.Combine(options.RunDir, "benchmark.md"));
            var line = Assert.Single(table.Split('\n'), l => l.StartsWith("- supervised from scratch (scratch_nuisance.json", StringComparison.Ordinal));
            Assert.Contains("6 labeled training clips", line, StringComparison.Ordinal);
            Assert.Matches(@"test top-1 \d+\.\d \[\d+\.\d, \d+\.\d\]", line);
            Assert.Contains(table, output.ToString(), StringComparison.Ordinal);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(options.RunDir, "benchmark.json")));
            var supervised = json.RootElement.GetProperty("scratch");
            Assert.Equal(6, supervised.GetProperty("train_clips").GetInt32());
            var test = supervised.GetProperty("test");
            Assert.InRange(test.GetProperty("top1").GetDouble(), test.GetProperty("low").GetDouble(), test.GetProperty("high").GetDouble());
            Assert.InRange(test.GetProperty("dev_top1").GetDouble(), 0, 1);
            var run = Path.Combine(options.RunDir, "scratch");
            Assert.True(File.Exists(Path.Combine(run, "test", "predictions.csv")));
            Assert.True(File.Exists(Path.Combine(run, "checkpoints", "best.safetensors")), "the dev split chooses the epoch");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // The ceiling's --minutes cap stops the fine-tune at a step boundary; the benchmark still needs a test figure, so the
    // weights it has (best on dev if an epoch ended, else the last checkpoint) are tested.
    [Fact]
    public void A_capped_ceiling_still_tests_the_weights_it_has()
    {
        var root = Directory.CreateTempSubdirectory("vssl-ceiling-cap-").FullName;
        try
        {
            NuisanceDatasetWriter.Ensure(root, new NuisanceDatasetOptions { Classes = 2, TrainPerClass = 2, DevPerClass = 1, TestPerClass = 1, Size = 32, Frames = 8 });
            var kinetics = NuisanceDatasetWriter.KineticsDir(root);
            var recipe = BenchmarkCommand.Recipe(Path.Combine(ExperimentConfigTests.ExperimentsDir(), "quickstart"), BenchmarkCommand.ScratchRecipe);
            string[] sets =
            [
                .. TinyRealData.ModelKeys, "model.embed_dim=0", "model.depth=0", "model.num_heads=0", "train.epochs=3", "train.batch_size=2",
                "train.warmup_epochs=0", "test.batch_size=2", "log.every_steps=1",
                $"data.root={Path.Combine(kinetics, "train")}", $"data.annotations={Path.Combine(kinetics, "train.csv")}",
                $"select.root={Path.Combine(kinetics, "dev")}", $"select.annotations={Path.Combine(kinetics, "dev.csv")}",
                $"val.root={Path.Combine(kinetics, "test")}", $"val.annotations={Path.Combine(kinetics, "test.csv")}",
            ];
            var run = Path.Combine(root, "run");
            using var stop = new VideoSSL.Training.StopSignal();
            stop.RequestAfter(TimeSpan.Zero, "the cap");
            SpinWait.SpinUntil(() => stop.Requested);

            var outcome = EvaluationCommands.Finetune(recipe, sets, run, resume: false, resumeFrom: null, test: true, stop, testWhenStopped: true);

            Assert.True(outcome.Result.Interrupted);
            Assert.Equal(1, outcome.Result.Steps);
            Assert.NotNull(outcome.Test);
            Assert.Equal(Path.Combine(run, "checkpoints", "last.safetensors"), outcome.Tested);
            Assert.True(File.Exists(Path.Combine(run, "test", "predictions.csv")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // SVT's recipe pretrains a divided space-time encoder (vit_micro_divst): its views are cut from rendered procedural
    // clips, and the probes build that encoder, not the joint ViT, for both the random and the pretrained rows.
    [Fact]
    public void Benchmark_probes_the_divided_encoder_of_svt()
    {
        var root = Directory.CreateTempSubdirectory("vssl-benchmark-svt-").FullName;
        try
        {
            var options = Tiny(root, "svt") with
            {
                Overrides = [.. TinyRealData.ModelKeys, .. TinyRealData.PretrainKeys.Where(k => !k.StartsWith("model.decoder_", StringComparison.Ordinal)),
                    .. TinyRealData.SvtKeys, "data.procedural.clips=4", "data.procedural.size=32"],
                Data = new NuisanceDatasetOptions { Classes = 2, TrainPerClass = 2, DevPerClass = 1, TestPerClass = 1, Size = 32, Frames = 8 },
            };
            var results = BenchmarkCommand.Run(options, TextWriter.Null);

            var r = Assert.Single(results);
            Assert.Equal(1, r.Steps);
            foreach (var cells in new[] { r.Random, r.Pretrained, r.TransferRandom, r.TransferPretrained })
            {
                Assert.Equal(["attentive", "knn", "linear"], cells.Keys.Order(StringComparer.Ordinal));
            }
            var table = File.ReadAllText(Path.Combine(options.RunDir, "benchmark.md"));
            Assert.Equal(4, table.Split('\n').Count(l => l.StartsWith("| svt |", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // The labeled yardstick runs as a method: it reads the pool's labels through the pretraining loop, its encoder is
    // probed as the others' are, and the table says it is not one of the self-supervised rows.
    [Fact]
    public void Benchmark_runs_the_supervised_yardstick_on_the_pools_labels_and_marks_its_row()
    {
        var root = Directory.CreateTempSubdirectory("vssl-benchmark-supervised-").FullName;
        try
        {
            var options = Tiny(root, "supervised") with
            {
                Overrides = [.. TinyRealData.ModelKeys, .. TinyRealData.PretrainKeys.Where(k => !k.StartsWith("model.decoder_", StringComparison.Ordinal)),
                    "data.procedural.clips=4", "data.procedural.size=32"],
            };
            var r = Assert.Single(BenchmarkCommand.Run(options, TextWriter.Null));
            Assert.Equal(1, r.Steps);
            Assert.True(double.IsFinite(r.FinalLoss) && r.FinalLoss > 0, $"loss {r.FinalLoss}");
            var table = File.ReadAllText(Path.Combine(options.RunDir, "benchmark.md"));
            Assert.Equal(4, table.Split('\n').Count(l => l.StartsWith("| supervised |", StringComparison.Ordinal)));
            var line = Assert.Single(table.Split('\n'), l => l.StartsWith("- supervised: attentive gain", StringComparison.Ordinal));
            Assert.EndsWith("trained on the pool's labels: the yardstick for the self-supervised rows, not one of them", line.TrimEnd('\r'), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // The loader fills an unreadable video's slot with another video of the split; the frame-level check (a ridge probe
    // on one frame's features) must count that video once, as Prober.Extract does for the probes.
    [Fact]
    public void The_frame_level_check_counts_a_video_repeated_in_an_unreadable_ones_slot_once()
    {
        var config = TinyClips.Probe("probe.kind=linear");
        VideoSSL.Torch.Torch.ManualSeed(11);
        using var encoder = new VideoSSL.Models.VideoViTEncoder(VideoSSL.Training.Evaluation.EvalSetup.ModelConfig(config.Model));
        var set = TinyClips.Dataset(12, "train");
        var loader = new VideoSSL.Data.Loading.ClipLoader(set, (sample, _, index, rng) => index == 4
                ? throw new InvalidDataException($"moov atom not found in {sample.Path}")
                : VideoSSL.Data.Loading.ClipBatchItem.Create([.. TinyClips.Clip(sample, index, rng, augment: false)], [3, 2, 16, 16], sample.Label),
            new VideoSSL.Data.Loading.ClipLoaderOptions { BatchSize = 5, Workers = 2, Shuffle = false, DropLast = false, MaxFailureFraction = 0.5 });

        foreach (var raw in new[] { false, true })
        {
            using var features = BenchmarkCommand.MiddleFrameFeatures(encoder, loader, raw);
            Assert.Equal(11, features.Count);
            Assert.Equal(11, (int)features.Features.Size(0));
            Assert.Equal(11, features.VideoIds.Distinct().Count());
            Assert.DoesNotContain("train4", features.VideoIds);
        }
    }

    [Fact]
    public void Recipes_option_names_a_missing_folder_in_one_line()
    {
        using var run = new VideoSSL.Tests.Distributed.CliProcess(null, "benchmark", "--recipes", "no-such-recipes", "--methods", "vjepa");
        Assert.Equal(1, run.Wait(TimeSpan.FromMinutes(2)));
        Assert.Equal("error: --recipes no-such-recipes: no such folder", run.Err.Trim());
        Assert.Equal(string.Empty, run.Out.Trim());
    }

    // A probe with other heads reads other figures: its random-encoder probes are cached apart, and a head count that
    // does not divide the encoder's width is refused before anything is pretrained or written.
    [Fact]
    public void Attentive_heads_and_the_probed_block_have_their_own_random_probe_cache_and_are_checked_before_pretraining()
    {
        var root = Directory.CreateTempSubdirectory("vssl-benchmark-heads-").FullName;
        try
        {
            var options = Tiny(root, "vjepa");
            var encoder = new VideoSSL.Models.VideoViTConfig { EmbedDim = 96, Depth = 4, NumHeads = 3 };
            var cache = BenchmarkCommand.RandomProbeCache(options, encoder, root);
            Assert.Equal(cache, BenchmarkCommand.RandomProbeCache(options with { AttentiveHeads = 0 }, encoder, root));
            Assert.NotEqual(cache, BenchmarkCommand.RandomProbeCache(options with { AttentiveHeads = 12 }, encoder, root));

            var e = Assert.Throws<ConfigException>(() => BenchmarkCommand.Run(options with { AttentiveHeads = 7 }, TextWriter.Null));
            Assert.StartsWith("--attentive-heads 7: vjepa's encoder is", e.Message);
            Assert.False(Directory.Exists(options.RunDir));
            Assert.False(Directory.Exists(options.DataRoot));

            // The same for the block the probes read.
            Assert.Equal(cache, BenchmarkCommand.RandomProbeCache(options with { ProbeBlock = 0 }, encoder, root));
            Assert.NotEqual(cache, BenchmarkCommand.RandomProbeCache(options with { ProbeBlock = 2 }, encoder, root));
            e = Assert.Throws<ConfigException>(() => BenchmarkCommand.Run(options with { ProbeBlock = 99 }, TextWriter.Null));
            Assert.Matches("^--probe-block 99: vjepa's encoder has [0-9]+ blocks$", e.Message);
            Assert.False(Directory.Exists(options.RunDir));
            Assert.False(Directory.Exists(options.DataRoot));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
