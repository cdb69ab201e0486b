using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Synthetic;
using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Plots;
using VideoSSL.Torch;
using VideoSSL.Training;
using VideoSSL.Training.Config;
using VideoSSL.Training.Evaluation;

namespace VideoSSL.Cli;

/// <summary>What `videossl benchmark` runs: which methods, where, how long, on which labeled sets, with which probe grids.</summary>
internal sealed record BenchmarkOptions
{
    /// <summary>Methods to run; each needs <c>{RecipeDir}/{method}_nuisance.json</c>.</summary>
    public required IReadOnlyList<string> Methods { get; init; }

    public required string RunDir { get; init; }

    /// <summary>Cap on each method's pretraining wall time (it stops at the step boundary with a checkpoint); 0 = none.</summary>
    public double Minutes { get; init; } = 15;

    public string RecipeDir { get; init; } = Path.Combine("experiments", "quickstart");

    /// <summary>--set overrides applied to every pretraining recipe.</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];

    /// <summary>
    /// One seed for the pretraining (it replaces the recipe's <c>seed</c>), the random encoder and every probe, so the
    /// two encoders compared differ only by the pretraining.
    /// </summary>
    public long Seed { get; init; }

    public string DataRoot { get; init; } = Path.Combine("data", "nuisance");

    public NuisanceDatasetOptions Data { get; init; } = new();

    public string TransferRoot { get; init; } = Path.Combine("data", "nuisance_transfer");

    /// <summary>The transfer set: the same motions drawn with other nuisance statistics (and another seed) than the pool.</summary>
    public NuisanceDatasetOptions Transfer { get; init; } = NuisanceDatasetOptions.Transfer;

    public int LinearEpochs { get; init; } = 60;

    public int AttentiveEpochs { get; init; } = 40;

    /// <summary>Linear probe grid: base_lr (x batch / 256) x weight decay, chosen on the dev split.</summary>
    public IReadOnlyList<double> LinearLr { get; init; } = [0.1, 0.5, 2.0, 8.0];

    public IReadOnlyList<double> LinearWd { get; init; } = [0.0, 0.05];

    /// <summary>
    /// Attentive probe grid: absolute lr x weight decay, chosen on the dev split. It reaches 3e-2: with 40 epochs of 300
    /// clips, a grid that stopped at 3e-3 left the probe of a pretrained V-JEPA encoder underfit at 11.5% where 1e-2 gives
    /// 39.0% (experiments/README.md, third round).
    /// </summary>
    public IReadOnlyList<double> AttentiveLr { get; init; } = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2];

    public IReadOnlyList<double> AttentiveWd { get; init; } = [0.01];

    /// <summary>Heads of the attentive probe's cross-attention; 0 = the encoder's (V-JEPA's AttentiveClassifier takes the encoder's).</summary>
    public int AttentiveHeads { get; init; }

    /// <summary>
    /// Which tokens every probe reads: 0 = the encoder's output after its final norm (jepa's evals); K = the raw output
    /// of block K (from 1). Linear and kNN read their mean, as they read the output's.
    /// </summary>
    public int ProbeBlock { get; init; }

    public IReadOnlyList<int> KnnK { get; init; } = KnnProbe.DefaultK;

    /// <summary>
    /// Heads trained per grid point of the linear and attentive probes (seeds <see cref="Seeds.ForRepeat"/>): the grid
    /// point with the best mean dev top-1 is chosen and the mean test top-1 of its heads reported. One head's seed alone
    /// moves a figure by up to 9 points on this data (experiments/README.md, sixth and tenth rounds); with one head the
    /// V-JEPA quick start read +14.6 over seeds 0-3, with three +11.7 (fifteenth round), hence three by default.
    /// </summary>
    public int ProbeSeeds { get; init; } = 3;

    public int Workers { get; init; } = 2;

    /// <summary>
    /// Also fine-tune <c>{RecipeDir}/scratch_nuisance.json</c> from scratch on the labeled train split (epoch chosen on dev,
    /// test reported): how far labels alone take the quick-start encoder, the yardstick for the probes.
    /// </summary>
    public bool Ceiling { get; init; }

    /// <summary>--set overrides of the scratch fine-tune recipe (the pretraining <see cref="Overrides"/> do not reach it).</summary>
    public IReadOnlyList<string> CeilingOverrides { get; init; } = [];

    /// <summary>
    /// Probe again what an earlier benchmark in <see cref="RunDir"/> pretrained (its <c>METHOD/pretraining.json</c> and
    /// checkpoint) instead of pretraining: other probe grids or labeled-set sizes on the same weights.
    /// </summary>
    public bool Reuse { get; init; }
}

/// <summary>
/// `videossl benchmark`: for each method, pretrain its quick-start recipe on the procedural nuisance-rich pool, then
/// probe (linear, attentive, kNN) the pretrained encoder and a randomly initialised one of the same shape, with the same
/// seeds, on the labeled nuisance-rich set (read from its Kinetics files): hyperparameters chosen on dev, test reported
/// with 95% bootstrap intervals; the same again on a transfer set drawn with other nuisance statistics. One table to
/// stdout and to RUN/benchmark.md and RUN/benchmark.json.
/// </summary>
internal static class BenchmarkCommand
{
    private static readonly string[] s_probes = ["linear", "attentive", "knn"];

    public static Command Create()
    {
        var methods = new Option<string?>("--methods") { Description = "comma-separated methods (default: every self-supervised method with a quick-start recipe experiments/quickstart/METHOD_nuisance.json; add supervised for the labeled yardstick)" };
        var minutes = new Option<double>("--minutes") { Description = "cap on each method's pretraining wall time, minutes (0 = the recipe's full schedule)", DefaultValueFactory = _ => 15 };
        var runDir = new Option<string?>("--run-dir") { Description = "output folder (default runs/benchmark-TIMESTAMP)" };
        var set = new Option<string[]>("--set") { Description = "override a key of every pretraining recipe, e.g. --set train.epochs=1 (repeatable)", AllowMultipleArgumentsPerToken = false };
        var seeds = new Option<string>("--seed", "--seeds") { Description = "seed of the pretraining, the random encoder and the probes; several (--seeds 0,1,2) run the whole benchmark once per seed into RUN/seed-N and add a table of the mean gain with its 95% t-interval over seeds", DefaultValueFactory = _ => "0" };
        var trainPerClass = new Option<int>("--train-per-class") { Description = "labeled training clips per class the probes learn from (the dev and test splits keep their size)", DefaultValueFactory = _ => new NuisanceDatasetOptions().TrainPerClass };
        var ceiling = new Option<bool>("--ceiling")
        {
            Description = $"also train the quick-start encoder from scratch on the labeled train split ({Recipe(Path.Combine("experiments", "quickstart"), ScratchRecipe)}, "
                + "epoch chosen on dev, --minutes caps it too) and report its test top-1 with a 95% CI: a fine-tune from scratch on the labeled clips alone",
        };
        var reuse = new Option<bool>("--reuse") { Description = "probe again the checkpoints an earlier benchmark pretrained into --run-dir, without pretraining (other probe grids, --train-per-class)" };
        var probeSeeds = new Option<int>("--probe-seeds") { Description = "heads trained per grid point of the linear and attentive probes, each with its own seed: the grid point with the best mean dev top-1 is chosen, the mean test top-1 of its heads reported (default 3; 1 probes in half the time)", DefaultValueFactory = _ => 3 };
        var attentiveLr = new Option<string?>("--attentive-lr") { Description = "comma-separated lr grid of the attentive probe, chosen on dev (default 3e-4,1e-3,3e-3,1e-2,3e-2)" };
        var recipes = new Option<string?>("--recipes") { Description = "folder of the METHOD_nuisance.json recipes to pretrain (default experiments/quickstart): a recipe change that --set cannot make, such as another list of mask generators" };
        var attentiveHeads = new Option<int>("--attentive-heads") { Description = "heads of the attentive probe's cross-attention; they must divide the encoder's width (default 0: the encoder's heads)" };
        var probeBlock = new Option<int>("--probe-block") { Description = "encoder block whose raw tokens every probe reads, from 1 (default 0: the output after the final norm)" };
        var command = new Command("benchmark", "Pretrain each method on the nuisance-rich pool, probe pretrained vs random encoders, print one table with 95% CIs")
        {
            methods, minutes, runDir, set, seeds, trainPerClass, ceiling, reuse, recipes, attentiveLr, attentiveHeads, probeSeeds, probeBlock,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var recipeDir = parse.GetValue(recipes) ?? Path.Combine("experiments", "quickstart");
            if (!Directory.Exists(recipeDir))
            {
                throw new ConfigException($"--recipes {recipeDir}: no such folder");
            }
            var names = parse.GetValue(methods) is { } list
                ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                // The labeled yardstick is asked for by name: the default table holds the self-supervised methods.
                : [.. MethodRegistry.Names.Where(m => m != SupervisedTask.MethodName && File.Exists(Recipe(recipeDir, m)))];
            if (parse.GetValue(minutes) < 0)
            {
                throw new ConfigException($"--minutes {parse.GetValue(minutes)}: must be >= 0");
            }
            if (parse.GetValue(trainPerClass) < 1)
            {
                throw new ConfigException($"--train-per-class {parse.GetValue(trainPerClass)}: must be >= 1");
            }
            if (parse.GetValue(probeSeeds) < 1)
            {
                throw new ConfigException($"--probe-seeds {parse.GetValue(probeSeeds)}: must be >= 1");
            }
            if (parse.GetValue(attentiveHeads) < 0)
            {
                throw new ConfigException($"--attentive-heads {parse.GetValue(attentiveHeads)}: must be >= 0 (0 = the encoder's heads)");
            }
            if (parse.GetValue(probeBlock) < 0)
            {
                throw new ConfigException($"--probe-block {parse.GetValue(probeBlock)}: must be >= 0 (0 = the output after the final norm)");
            }
            if (parse.GetValue(reuse) && parse.GetValue(runDir) is null)
            {
                throw new ConfigException("--reuse needs --run-dir: the folder of the benchmark whose checkpoints to probe again");
            }
            var options = new BenchmarkOptions
            {
                Reuse = parse.GetValue(reuse),
                Methods = names,
                Minutes = parse.GetValue(minutes),
                RunDir = parse.GetValue(runDir) ?? Path.Combine("runs", $"benchmark-{DateTime.Now:yyyyMMdd-HHmmss}"),
                RecipeDir = recipeDir,
                Overrides = parse.GetValue(set) ?? [],
                Data = new NuisanceDatasetOptions { TrainPerClass = parse.GetValue(trainPerClass) },
                Ceiling = parse.GetValue(ceiling),
                ProbeSeeds = parse.GetValue(probeSeeds),
                AttentiveHeads = parse.GetValue(attentiveHeads),
                ProbeBlock = parse.GetValue(probeBlock),
            };
            if (parse.GetValue(attentiveLr) is { } grid)
            {
                options = options with { AttentiveLr = ParseGrid("--attentive-lr", grid) };
            }
            var seedList = ParseSeeds(parse.GetValue(seeds)!);
            if (seedList.Count == 1)
            {
                Run(options with { Seed = seedList[0] }, Console.Out);
            }
            else
            {
                RunSeeds(options, seedList, Console.Out);
            }
            return 0;
        }));
        return command;
    }

    // --minutes caps each training run at a step boundary: the run stops as if signalled and keeps what it has.
    private static StopSignal StopAfter(double minutes)
    {
        var stop = new StopSignal();
        if (minutes > 0)
        {
            stop.RequestAfter(TimeSpan.FromMinutes(minutes), $"the --minutes {minutes:G4} cap");
        }
        return stop;
    }

    private static double[] ParseGrid(string option, string text)
    {
        var values = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var grid = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (!double.TryParse(values[i], NumberStyles.Float, CultureInfo.InvariantCulture, out grid[i]) || !(grid[i] > 0) || double.IsInfinity(grid[i]))
            {
                throw new ConfigException($"{option} {text}: '{values[i]}' is not a positive number");
            }
        }
        return grid.Length > 0 ? grid : throw new ConfigException($"{option}: empty grid");
    }

    private static List<long> ParseSeeds(string text)
    {
        var seeds = new List<long>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!long.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) || seed < 0)
            {
                throw new ConfigException($"--seeds {text}: '{item}' is not a non-negative integer");
            }
            if (seeds.Contains(seed))
            {
                throw new ConfigException($"--seeds {text}: seed {seed} is given twice");
            }
            seeds.Add(seed);
        }
        return seeds.Count > 0 ? seeds : throw new ConfigException("--seeds: no seed given");
    }

    private static string CheckpointPath(BenchmarkOptions options, string method) => Path.Combine(options.RunDir, method, "pretrain", "checkpoints", "last.safetensors");

    private static string SummaryPath(BenchmarkOptions options, string method) => Path.Combine(options.RunDir, method, "pretraining.json");

    public static string Recipe(string dir, string method) => Path.Combine(dir, $"{method}_nuisance.json");

    /// <summary>The fine-tune recipe of the scratch ceiling, <c>scratch_nuisance.json</c> (not a method: no pretraining).</summary>
    public const string ScratchRecipe = "scratch";

    /// <summary>What a method's pretraining left for --reuse: its figures, and the recipe and --set overrides its encoder was built with.</summary>
    internal sealed record PretrainingSummary(long Steps, double WallSeconds, double FinalLoss, bool Capped, IReadOnlyList<string> Overrides, long? Seed = null, string? Recipe = null);

    /// <summary>One probe result on a test split: top-1 with its 95% bootstrap interval, the dev score it was chosen by.</summary>
    internal sealed record Cell(double Top1, double Low, double High, double DevTop1, string Chosen);

    internal sealed record MethodResult(string Method, string Recipe, long Steps, double WallSeconds, double FinalLoss, bool Capped, string Checkpoint,
        Dictionary<string, Cell> Random, Dictionary<string, Cell> Pretrained, Dictionary<string, Cell> TransferRandom, Dictionary<string, Cell> TransferPretrained,
        double FrameProbeTop1);

    /// <summary>The scratch ceiling: the recipe's encoder trained from scratch on the labeled train split, tested at its best dev epoch.</summary>
    internal sealed record ScratchResult(string Recipe, int TrainClips, long Steps, double WallSeconds, bool Capped, Cell Test, string Checkpoint);

    public static IReadOnlyList<MethodResult> Run(BenchmarkOptions options, TextWriter output)
    {
        if (options.Methods.Count == 0)
        {
            throw new ConfigException($"no method to benchmark: --methods is empty and no {Recipe(options.RecipeDir, "METHOD")} exists");
        }
        foreach (var method in options.Methods)
        {
            if (!MethodRegistry.Names.Contains(method))
            {
                throw new ConfigException($"--methods: unknown method '{method}' ({string.Join(", ", MethodRegistry.Names)})");
            }
            if (!File.Exists(Recipe(options.RecipeDir, method)))
            {
                throw new ConfigException($"--methods: {method} has no quick-start recipe {Recipe(options.RecipeDir, method)}");
            }
            // Checked before any data is written, so a mistyped --run-dir fails at once.
            if (options.Reuse && (!File.Exists(SummaryPath(options, method)) || !File.Exists(CheckpointPath(options, method))))
            {
                throw new ConfigException($"--reuse: {SummaryPath(options, method)} or {CheckpointPath(options, method)} is missing: run the benchmark into {options.RunDir} without --reuse first");
            }
            // Checked before pretraining: the probe is built only after it.
            if (options.AttentiveHeads > 0 || options.ProbeBlock > 0)
            {
                var config = PretrainCommand.WithMethodDefaults(ConfigLoader.Load<PretrainConfig>(Recipe(options.RecipeDir, method), options.Overrides));
                var encoder = PretrainCommand.EncoderConfig(config, MethodRegistry.Get(config.Method));
                if (options.AttentiveHeads > 0 && encoder.EmbedDim % options.AttentiveHeads != 0)
                {
                    throw new ConfigException($"--attentive-heads {options.AttentiveHeads}: {method}'s encoder is {encoder.EmbedDim} wide, which {options.AttentiveHeads} heads do not divide");
                }
                if (options.ProbeBlock > encoder.Depth)
                {
                    throw new ConfigException($"--probe-block {options.ProbeBlock}: {method}'s encoder has {encoder.Depth} blocks");
                }
            }
        }
        if (options.Ceiling && !File.Exists(Recipe(options.RecipeDir, ScratchRecipe)))
        {
            throw new ConfigException($"--ceiling: no scratch fine-tune recipe {Recipe(options.RecipeDir, ScratchRecipe)}");
        }
        // The benchmark's --seed is the pretraining's seed too; a second one from --set would break the pairing with the
        // random encoder.
        if (options.Overrides.FirstOrDefault(o => o.Split('=', 2)[0].Trim() == "seed") is { } seedOverride)
        {
            throw new ConfigException($"--set {seedOverride}: the benchmark's --seed sets the pretraining seed (and the random encoder's and the probes')");
        }
        Directory.CreateDirectory(options.RunDir);
        NuisanceDatasetWriter.Ensure(options.DataRoot, options.Data, output.WriteLine);
        NuisanceDatasetWriter.Ensure(options.TransferRoot, options.Transfer, output.WriteLine);
        var scratch = options.Ceiling ? Scratch(options, output) : null;
        var results = new List<MethodResult>();
        double rawFrame = double.NaN;
        foreach (var method in options.Methods)
        {
            var recipe = Recipe(options.RecipeDir, method);
            var pretrainDir = Path.Combine(options.RunDir, method, "pretrain");
            var checkpoint = CheckpointPath(options, method);
            var summaryPath = SummaryPath(options, method);
            PretrainingSummary summary;
            if (options.Reuse)
            {
                summary = JsonSerializer.Deserialize<PretrainingSummary>(File.ReadAllText(summaryPath))!;
                // The encoder is rebuilt from the recipe and the overrides it was pretrained with (a --set such as
                // model.pos_embed changes its shape or tables): none given means those, others are refused.
                if (options.Overrides.Count > 0 && !options.Overrides.SequenceEqual(summary.Overrides ?? []))
                {
                    throw new ConfigException(summary.Overrides is { Count: > 0 } used
                        ? $"--reuse: {method} in {options.RunDir} was pretrained with --set {string.Join(" --set ", used)}; give those or no --set"
                        : $"--reuse: {method} in {options.RunDir} was pretrained without --set; give none");
                }
                if (summary.Recipe is { } pretrainedFrom && Path.GetFullPath(pretrainedFrom) != Path.GetFullPath(recipe))
                {
                    throw new ConfigException($"--reuse: {method} in {options.RunDir} was pretrained from {pretrainedFrom}; give --recipes {Path.GetDirectoryName(pretrainedFrom)}");
                }
                if (summary.Seed is { } pretrainedSeed && pretrainedSeed != options.Seed)
                {
                    throw new ConfigException($"--reuse: {method} in {options.RunDir} was pretrained with seed {pretrainedSeed}; give --seed {pretrainedSeed} so the random encoder and the probes share it");
                }
                output.WriteLine($"== {method}: reusing {checkpoint} ({summary.Steps} steps{(summary.Overrides is { Count: > 0 } o ? $", --set {string.Join(" --set ", o)}" : string.Empty)})");
            }
            else
            {
                output.WriteLine($"== {method}: pretraining {recipe}{(options.Minutes > 0 ? $" (at most {options.Minutes:G4} min)" : string.Empty)}");
                var watch = Stopwatch.StartNew();
                Pretrainer.Result pretrained;
                using (var stop = StopAfter(options.Minutes))
                {
                    pretrained = PretrainCommand.Run(recipe, [string.Create(CultureInfo.InvariantCulture, $"seed={options.Seed}"), .. options.Overrides], pretrainDir, resume: false, resumeCheckpoint: null, stop);
                }
                summary = new PretrainingSummary(pretrained.Steps, watch.Elapsed.TotalSeconds, pretrained.FinalLoss, pretrained.Interrupted, options.Overrides, options.Seed, recipe);
                VideoSSL.Data.AtomicFile.WriteAllText(summaryPath, JsonSerializer.Serialize(summary));
            }
            var config = PretrainCommand.WithMethodDefaults(ConfigLoader.Load<PretrainConfig>(recipe, summary.Overrides ?? options.Overrides));
            // Probes run at the recipe's thread count, pretrained here or reused: libtorch's CPU reductions split by
            // thread, and the attentive probe carries a last-bit difference into another dev choice (twelfth round).
            Torch.Torch.UseThreads(config.Train.Threads);
            var encoderConfig = PretrainCommand.EncoderConfig(config, MethodRegistry.Get(config.Method)) with { DropPathRate = 0 };
            var probeRoot = Path.Combine(options.RunDir, method);
            var main = Probes(options, config, encoderConfig, checkpoint, options.DataRoot, Path.Combine(probeRoot, "test"), output);
            var transfer = Probes(options, config, encoderConfig, checkpoint, options.TransferRoot, Path.Combine(probeRoot, "transfer"), output);
            if (double.IsNaN(rawFrame))
            {
                rawFrame = main.RawFrame;
            }
            results.Add(new MethodResult(method, recipe, summary.Steps, summary.WallSeconds, summary.FinalLoss, summary.Capped, checkpoint,
                main.Random, main.Pretrained, transfer.Random, transfer.Pretrained, main.FrameProbe));
        }
        var classes = options.Data.Classes;
        var table = Table(results, classes, rawFrame, scratch, options.ProbeSeeds, options.AttentiveHeads, options.ProbeBlock);
        output.WriteLine();
        output.Write(table);
        VideoSSL.Data.AtomicFile.WriteAllText(Path.Combine(options.RunDir, "benchmark.md"), table);
        VideoSSL.Data.AtomicFile.WriteAllText(Path.Combine(options.RunDir, "benchmark.json"), JsonSerializer.Serialize(new
        {
            seed = options.Seed,
            minutes = options.Minutes,
            overrides = options.Overrides,
            data = new { root = options.DataRoot, classes, train_per_class = options.Data.TrainPerClass, dev_per_class = options.Data.DevPerClass, test_per_class = options.Data.TestPerClass, seed = options.Data.Seed },
            transfer = new { root = options.TransferRoot, train_per_class = options.Transfer.TrainPerClass, dev_per_class = options.Transfer.DevPerClass, test_per_class = options.Transfer.TestPerClass, seed = options.Transfer.Seed },
            probe_seeds = options.ProbeSeeds,
            attentive_heads = options.AttentiveHeads,
            probe_block = options.ProbeBlock,
            frame_probe_raw_pixels_top1 = rawFrame,
            methods = results,
            scratch,
        }, s_reportJson));
        output.WriteLine($"written: {Path.Combine(options.RunDir, "benchmark.md")}, {Path.Combine(options.RunDir, "benchmark.json")}");
        return results;
    }

    /// <summary>
    /// The whole benchmark once per seed (RUN/seed-N, each a complete benchmark folder that --reuse can probe again), then
    /// the mean over seeds of each probe's test top-1, random and pretrained, and of their gain, with 95% t-intervals:
    /// one pretraining seed moves the attentive probe by more than the probe's own bootstrap interval on this data
    /// (experiments/README.md, fifth round), so one seed cannot tell a recipe's gain.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<MethodResult>> RunSeeds(BenchmarkOptions options, IReadOnlyList<long> seeds, TextWriter output)
    {
        var perSeed = new List<IReadOnlyList<MethodResult>>();
        foreach (var seed in seeds)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"==== seed {seed}"));
            perSeed.Add(Run(options with { Seed = seed, RunDir = SeedDir(options.RunDir, seed) }, output));
        }
        var table = SeedTable(seeds, perSeed, options.Data.Classes);
        output.WriteLine();
        output.Write(table);
        VideoSSL.Data.AtomicFile.WriteAllText(Path.Combine(options.RunDir, "benchmark.md"), table);
        var methods = perSeed[0].Select(r => r.Method).ToList();
        VideoSSL.Data.AtomicFile.WriteAllText(Path.Combine(options.RunDir, "benchmark.json"), JsonSerializer.Serialize(new
        {
            seeds,
            runs = seeds.Select(s => SeedDir(options.RunDir, s)),
            methods = methods.Select((m, i) => new
            {
                method = m,
                sets = SeedSets.Select(set => new
                {
                    set = set.Name,
                    probes = s_probes.Select(p => new
                    {
                        probe = p,
                        random = SeedMean.Of([.. perSeed.Select(r => set.Random(r[i])[p].Top1)]),
                        pretrained = SeedMean.Of([.. perSeed.Select(r => set.Pretrained(r[i])[p].Top1)]),
                        gain = SeedMean.Of([.. perSeed.Select(r => set.Pretrained(r[i])[p].Top1 - set.Random(r[i])[p].Top1)]),
                    }),
                }),
                wall_seconds = perSeed.Select(r => r[i].WallSeconds),
            }),
        }, s_reportJson));
        output.WriteLine($"written: {Path.Combine(options.RunDir, "benchmark.md")}, {Path.Combine(options.RunDir, "benchmark.json")}");
        return perSeed;
    }

    internal static string SeedDir(string runDir, long seed) => Path.Combine(runDir, string.Create(CultureInfo.InvariantCulture, $"seed-{seed}"));

    private static readonly (string Name, Func<MethodResult, Dictionary<string, Cell>> Random, Func<MethodResult, Dictionary<string, Cell>> Pretrained)[] SeedSets =
    [
        ("nuisance", r => r.Random, r => r.Pretrained),
        ("transfer", r => r.TransferRandom, r => r.TransferPretrained),
    ];

    internal static string SeedTable(IReadOnlyList<long> seeds, IReadOnlyList<IReadOnlyList<MethodResult>> perSeed, int classes)
    {
        var inv = CultureInfo.InvariantCulture;
        static string Points(SeedMean m, bool signed)
        {
            var f = signed ? "+0.0;-0.0" : "F1";
            var inv = CultureInfo.InvariantCulture;
            var mean = (m.Mean * 100).ToString(f, inv);
            return double.IsNaN(m.Low) ? mean : $"{mean} [{(m.Low * 100).ToString(f, inv)}, {(m.High * 100).ToString(f, inv)}]";
        }
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(inv, $"Top-1 % on the test split, mean over seeds {string.Join(", ", seeds)} [95% t-interval over seeds]; each seed is the pretraining's, the random encoder's and the probes'; chance {100.0 / classes:F1}%"));
        sb.AppendLine();
        sb.AppendLine("| method | set | probe | random | pretrained | gain (points) | gain per seed | sd of gain |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        for (var i = 0; i < perSeed[0].Count; i++)
        {
            foreach (var (name, random, pretrained) in SeedSets)
            {
                foreach (var p in s_probes)
                {
                    var r = SeedMean.Of([.. perSeed.Select(x => random(x[i])[p].Top1)]);
                    var t = SeedMean.Of([.. perSeed.Select(x => pretrained(x[i])[p].Top1)]);
                    var gains = perSeed.Select(x => pretrained(x[i])[p].Top1 - random(x[i])[p].Top1).ToList();
                    var g = SeedMean.Of(gains);
                    sb.AppendLine(string.Create(inv, $"| {perSeed[0][i].Method} | {name} | {p} | {Points(r, false)} | {Points(t, false)} | {Points(g, true)} | {string.Join(", ", gains.Select(x => (x * 100).ToString("+0.0;-0.0", inv)))} | {(double.IsNaN(g.StdDev) ? "" : (g.StdDev * 100).ToString("F1", inv))} |"));
                }
            }
        }
        sb.AppendLine();
        foreach (var i in Enumerable.Range(0, perSeed[0].Count))
        {
            var walls = perSeed.Select(x => x[i].WallSeconds).ToList();
            sb.AppendLine(string.Create(inv, $"- {perSeed[0][i].Method}: pretraining {string.Join(", ", perSeed.Select(x => x[i].Steps))} steps in {string.Join(", ", walls.Select(w => TimeSpan.FromSeconds(w).ToString(@"mm\:ss", inv)))} (per seed; each seed's own table is in seed-N/benchmark.md)"));
        }
        return sb.ToString();
    }

    // The ceiling through `videossl finetune`'s own entry point, pointed at the benchmark's labeled splits: train fits,
    // dev chooses the epoch (the run's best.safetensors), test is reported with the probes' bootstrap interval.
    private static ScratchResult Scratch(BenchmarkOptions options, TextWriter output)
    {
        var recipe = Recipe(options.RecipeDir, ScratchRecipe);
        var kinetics = NuisanceDatasetWriter.KineticsDir(options.DataRoot);
        string[] sets =
        [
            $"seed={options.Seed}",
            $"data.root={Path.Combine(kinetics, "train")}", $"data.annotations={Path.Combine(kinetics, "train.csv")}",
            $"select.root={Path.Combine(kinetics, "dev")}", $"select.annotations={Path.Combine(kinetics, "dev.csv")}",
            $"val.root={Path.Combine(kinetics, "test")}", $"val.annotations={Path.Combine(kinetics, "test.csv")}",
            $"data.workers={options.Workers}",
            .. options.CeilingOverrides,
        ];
        var runDir = Path.Combine(options.RunDir, "scratch");
        output.WriteLine($"== scratch ceiling: fine-tuning {recipe} from scratch{(options.Minutes > 0 ? $" (at most {options.Minutes:G4} min)" : string.Empty)}");
        var watch = Stopwatch.StartNew();
        EvaluationCommands.FinetuneOutcome outcome;
        using (var stop = StopAfter(options.Minutes))
        {
            outcome = EvaluationCommands.Finetune(recipe, sets, runDir, resume: false, resumeFrom: null, test: true, stop, testWhenStopped: true);
        }
        var wall = watch.Elapsed.TotalSeconds;
        var tested = outcome.Tested!;
        var interval = TestResults.Read(Path.Combine(runDir, "test", "predictions.csv"), options.Data.Classes).Bootstrap(1);
        var chosen = string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileNameWithoutExtension(tested)} checkpoint at step {Checkpoint.ReadState(tested).Step}");
        var cell = new Cell(interval.Value, interval.Low, interval.High, outcome.Result.BestAcc1, chosen);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"scratch ceiling: test {cell.Top1 * 100:F1}% (dev {cell.DevTop1 * 100:F1}%, {chosen})"));
        return new ScratchResult(recipe, options.Data.Classes * options.Data.TrainPerClass, outcome.Result.Steps, wall, outcome.Result.Interrupted, cell, tested);
    }

    private sealed record ProbeSet(Dictionary<string, Cell> Random, Dictionary<string, Cell> Pretrained, double FrameProbe, double RawFrame);

    // Every probe of the random and the pretrained encoder on one labeled set (train fits, dev chooses, test reports).
    private static ProbeSet Probes(BenchmarkOptions options, PretrainConfig config, VideoViTConfig encoderConfig, string checkpoint, string root, string outDir, TextWriter output)
    {
        var kinetics = NuisanceDatasetWriter.KineticsDir(root);
        var data = new DataSection
        {
            Format = "kinetics",
            Root = Path.Combine(kinetics, "train"),
            Annotations = Path.Combine(kinetics, "train.csv"),
            NumFrames = config.Data.NumFrames,
            SamplingRate = config.Data.SamplingRate,
            InputSize = config.Data.InputSize,
            Workers = options.Workers,
        };
        var trainSet = EvalSetup.OpenTrain(data);
        VideoDataset Split(string name) => EvalSetup.OpenVal(data, new SplitSection { Root = Path.Combine(kinetics, name), Annotations = Path.Combine(kinetics, $"{name}.csv") }, trainSet.ClassIndex);
        var splits = new[] { ("train", trainSet), ("dev", Split("dev")), ("test", Split("test")) };
        var numClasses = trainSet.ClassCount;
        var device = Device.CPU;
        var tokenConfig = ProbeConfig("attentive", options, 0, 0);
        var results = new Dictionary<string, Cell>[2];
        double frameProbe = double.NaN, rawFrame = double.NaN;
        // The random encoder's probes depend only on its shape, the seed, the labeled set and the probe grids: a second
        // run with the same ones (another recipe, same seeds) reads them from the cache instead of probing for minutes.
        var cache = RandomProbeCache(options, encoderConfig, root);
        if (RandomProbeCached(cache) is { } cached)
        {
            output.WriteLine($"{Path.GetFileName(outDir)} random: from {cache} (the same encoder shape, seed, labeled set and probe grids)");
            foreach (var kind in s_probes)
            {
                var dir = Path.Combine(outDir, "random", kind);
                Directory.CreateDirectory(dir);
                CopyPredictions(Path.Combine(cache, kind), dir);
            }
            results[0] = cached.Cells;
            rawFrame = cached.RawFrame;
        }
        for (var e = results[0] is null ? 0 : 1; e < 2; e++)
        {
            var isPretrained = e == 1;
            var name = isPretrained ? "pretrained" : "random";
            Torch.Torch.ManualSeed((ulong)options.Seed);
            // A *_divst encoder (SVT) is TimeSformer's divided ViT; the rest the joint ViT.
            using var encoder = ModelRegistry.CreateBackbone(encoderConfig);
            if (isPretrained)
            {
                output.WriteLine(EvalSetup.InitEncoder(encoder, checkpoint));
            }
            var extractor = new Prober(tokenConfig, encoder, null, null, numClasses, null, device, TextWriter.Null);
            // Tokens [N, L, D] for the attentive probe; their mean [N, D] for linear and kNN (what probe.pooling=mean sees).
            var tokens = new Dictionary<string, CachedFeatures>();
            var pooled = new Dictionary<string, CachedFeatures>();
            var frames = new Dictionary<string, CachedFeatures>();
            try
            {
                foreach (var (split, set) in splits)
                {
                    var loader = EvalSetup.Loader(set, EvalSetup.TestPipeline(data, "kinetics", 1, 1), data, 16, options.Seed, train: false);
                    var t = extractor.Extract(loader, split);
                    tokens[split] = t;
                    pooled[split] = new CachedFeatures(MeanTokens(t.Features), t.Labels, t.VideoIds, t.Metadata);
                    if (isPretrained && split != "dev")
                    {
                        frames[split] = MiddleFrameFeatures(encoder, loader, raw: false);
                    }
                    if (!isPretrained && split != "dev" && double.IsNaN(rawFrame))
                    {
                        frames["raw-" + split] = MiddleFrameFeatures(encoder, loader, raw: true);
                    }
                }
                var cells = new Dictionary<string, Cell>();
                var dir = Path.Combine(outDir, name);
                cells["linear"] = Grid(options, "linear", encoder, pooled, numClasses, dir, device);
                cells["attentive"] = Grid(options, "attentive", encoder, tokens, numClasses, dir, device);
                cells["knn"] = Knn(options, pooled, numClasses, dir);
                results[e] = cells;
                output.WriteLine($"{Path.GetFileName(outDir)} {name}: " + string.Join(", ", s_probes.Select(p => $"{p} {cells[p].Top1 * 100:F1}% (dev {cells[p].DevTop1 * 100:F1}%, {cells[p].Chosen})")));
                if (frames.TryGetValue("train", out var frameTrain))
                {
                    frameProbe = RidgeTop1(frameTrain, frames["test"], numClasses);
                }
                if (frames.TryGetValue("raw-train", out var rawTrain))
                {
                    rawFrame = RidgeTop1(rawTrain, frames["raw-test"], numClasses);
                }
                if (!isPretrained)
                {
                    SaveRandomProbes(cache, dir, cells, rawFrame);
                }
            }
            finally
            {
                foreach (var c in tokens.Values.Concat(pooled.Values).Concat(frames.Values))
                {
                    c.Dispose();
                }
            }
        }
        return new ProbeSet(results[0], results[1], frameProbe, rawFrame);
    }

    internal sealed record CachedRandomProbes(Dictionary<string, Cell> Cells, double RawFrame);

    // {labeled set root}/random-probes/{hash}: the key holds everything the random encoder's results depend on,
    // the thread count included (see the caller).
    internal static string RandomProbeCache(BenchmarkOptions options, VideoViTConfig encoderConfig, string root)
    {
        var stamp = Path.Combine(root, NuisanceDatasetWriter.StampFile);
        var key = JsonSerializer.Serialize(new
        {
            encoder = encoderConfig,
            options.Seed,
            stamp = File.Exists(stamp) ? File.ReadAllText(stamp) : string.Empty,
            options.LinearEpochs, options.AttentiveEpochs, options.LinearLr, options.LinearWd, options.AttentiveLr, options.AttentiveWd, options.KnnK,
            threads = Torch.Torch.NumThreads,
        });
        if (options.ProbeSeeds > 1)
        {
            key += string.Create(CultureInfo.InvariantCulture, $"|probe_seeds={options.ProbeSeeds}");  // one head keeps the caches written before the option
        }
        if (options.AttentiveHeads > 0)
        {
            key += string.Create(CultureInfo.InvariantCulture, $"|attentive_heads={options.AttentiveHeads}");
        }
        if (options.ProbeBlock > 0)
        {
            key += string.Create(CultureInfo.InvariantCulture, $"|probe_block={options.ProbeBlock}");
        }
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];
        return Path.Combine(root, "random-probes", hash);
    }

    private static CachedRandomProbes? RandomProbeCached(string cache)
    {
        var path = Path.Combine(cache, "probes.json");
        if (!File.Exists(path) || s_probes.Any(k => !File.Exists(Path.Combine(cache, k, "predictions.csv"))))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<CachedRandomProbes>(File.ReadAllText(path), s_cacheJson);
        }
        catch (JsonException)
        {
            return null;  // a damaged cache entry is probed again and rewritten
        }
    }

    // predictions.csv first, probes.json (atomically) last: an entry without probes.json is never read.
    private static void SaveRandomProbes(string cache, string probeDir, Dictionary<string, Cell> cells, double rawFrame)
    {
        foreach (var kind in s_probes)
        {
            Directory.CreateDirectory(Path.Combine(cache, kind));
            CopyPredictions(Path.Combine(probeDir, kind), Path.Combine(cache, kind));
        }
        VideoSSL.Data.AtomicFile.WriteAllText(Path.Combine(cache, "probes.json"), JsonSerializer.Serialize(new CachedRandomProbes(cells, rawFrame), s_cacheJson));
    }

    // benchmark.json, for one seed and over seeds (NaN where a figure does not exist, e.g. an interval of one seed).
    private static readonly JsonSerializerOptions s_reportJson = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static readonly JsonSerializerOptions s_cacheJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    // Batches of 32 (linear) and 16 (attentive) clips, fewer when the training split is smaller.
    private static ProbeConfig ProbeConfig(string kind, BenchmarkOptions options, double lr, double wd, int trainCount = int.MaxValue, int repeat = 0) => new()
    {
        Seed = Seeds.ForRepeat(options.Seed, repeat),
        Probe = new ProbeSection { Kind = kind, Pooling = "mean", AttentiveDepth = 1, AttentiveVariant = "vjepa", AttentiveHeads = options.AttentiveHeads, AttentiveBlock = kind == "attentive" ? options.ProbeBlock : 0, CacheFeatures = true },
        Train = kind == "attentive"
            ? new ProbeOptimSection { Epochs = options.AttentiveEpochs, BatchSize = Math.Min(16, trainCount), BaseLr = lr, ScaleLr = false, WarmupEpochs = 2, WeightDecay = wd, Bf16 = false }
            : new ProbeOptimSection { Epochs = options.LinearEpochs, BatchSize = Math.Min(32, trainCount), BaseLr = lr, ScaleLr = true, WarmupEpochs = 5, WeightDecay = wd, Bf16 = false },
        Log = new LogSection { EverySteps = int.MaxValue },
    };

    // Each (lr, weight decay) trains --probe-seeds heads on train; the best mean dev top-1 (first on ties) is reported on
    // test as the mean of its heads, with a bootstrap interval over videos of the fraction of heads right on each.
    private static Cell Grid(BenchmarkOptions options, string kind, VideoEncoder encoder, Dictionary<string, CachedFeatures> features, int numClasses, string dir, Device device)
    {
        var lrs = kind == "attentive" ? options.AttentiveLr : options.LinearLr;
        var wds = kind == "attentive" ? options.AttentiveWd : options.LinearWd;
        (double Dev, List<EvalResult> Tests, string Chosen)? best = null;
        foreach (var lr in lrs)
        {
            foreach (var wd in wds)
            {
                double dev = 0;
                var tests = new List<EvalResult>();
                for (var r = 0; r < options.ProbeSeeds; r++)
                {
                    var prober = new Prober(ProbeConfig(kind, options, lr, wd, features["train"].Count, r), encoder, null, null, numClasses, null, device, TextWriter.Null);
                    var (result, extra) = prober.Fit(features["train"], features["dev"], [features["test"]]);
                    dev += result.FinalAcc1 / options.ProbeSeeds;
                    tests.Add(extra[0]);
                }
                if (best is null || dev > best.Value.Dev)
                {
                    var chosen = string.Create(CultureInfo.InvariantCulture, $"lr {lr:G3}, wd {wd:G3}");
                    best = (dev, tests, options.ProbeSeeds > 1 ? chosen + string.Create(CultureInfo.InvariantCulture, $", mean of {options.ProbeSeeds} heads") : chosen);
                }
            }
        }
        return Report(Path.Combine(dir, kind), best!.Value.Tests, best.Value.Dev, best.Value.Chosen, numClasses);
    }

    private static Cell Knn(BenchmarkOptions options, Dictionary<string, CachedFeatures> features, int numClasses, string dir)
    {
        var best = options.KnnK.Select(k => (K: k, Dev: Prober.ScoreKnn(features["train"], features["dev"], k, KnnProbe.DefaultTemperature, numClasses).Metrics.Top1))
            .Aggregate((a, b) => b.Dev > a.Dev ? b : a);
        var test = Prober.ScoreKnn(features["train"], features["test"], best.K, KnnProbe.DefaultTemperature, numClasses);
        return Report(Path.Combine(dir, "knn"), [test], best.Dev, $"k {best.K}", numClasses);
    }

    // A probe folder's predictions.csv and the other heads' predictions-head-N.csv, replacing every head file there.
    private static void CopyPredictions(string from, string to)
    {
        DeleteHeadFiles(to);
        foreach (var file in Directory.EnumerateFiles(from, "predictions*.csv"))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        }
    }

    // Head files of an earlier run with more --probe-seeds would otherwise sit beside this run's predictions.
    private static void DeleteHeadFiles(string dir)
    {
        foreach (var file in Directory.EnumerateFiles(dir, "predictions-head-*.csv"))
        {
            File.Delete(file);
        }
    }

    // predictions.csv of the chosen probe's first head (predictions-head-N.csv of the others), and the top-1 with the 95%
    // bootstrap interval the HTML report uses: of the one head, or over videos of the fraction of heads right on each.
    private static Cell Report(string dir, IReadOnlyList<EvalResult> tests, double dev, string chosen, int numClasses)
    {
        Directory.CreateDirectory(dir);
        DeleteHeadFiles(dir);
        var hits = new double[tests[0].Predictions.Count];
        for (var h = 0; h < tests.Count; h++)
        {
            var path = Path.Combine(dir, h == 0 ? "predictions.csv" : string.Create(CultureInfo.InvariantCulture, $"predictions-head-{h}.csv"));
            PredictionsCsv.Write(path, tests[h].Predictions);
            var head = TestResults.Read(path, numClasses).Hits(1);
            for (var i = 0; i < hits.Length; i++)
            {
                hits[i] += head[i] / tests.Count;
            }
        }
        var interval = TestResults.Bootstrap(hits);
        return new Cell(interval.Value, interval.Low, interval.High, dev, chosen);
    }

    private static Tensor MeanTokens(Tensor tokens)
    {
        using var scope = Torch.Torch.NewScope();
        return scope.MoveToOuter(tokens.Mean(1)).DetachFromScope();
    }

    /// <summary>
    /// The frame-level check: per video, the middle frame alone (repeated over the clip, so no motion is left) through
    /// the encoder and mean-pooled, or with <paramref name="raw"/> its pixels (4×4 block means).
    /// </summary>
    internal static CachedFeatures MiddleFrameFeatures(VideoEncoder encoder, VideoSSL.Data.Loading.ClipLoader loader, bool raw)
    {
        var parts = new List<Tensor>();
        var labels = new List<long>();
        var ids = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using var noGrad = Torch.Torch.NoGrad();
        foreach (var batch in loader.Epoch(0))
        {
            var vb = ViewBatch.From(batch);
            using var scope = Torch.Torch.NewScope();
            var keep = vb.RowsOfNewVideos(seen);
            if (keep.Length == 0)
            {
                continue;
            }
            var clips = vb.Clips(Device.CPU);  // [B, 3, T, S, S]
            if (keep.Length < vb.Rows)
            {
                clips = clips.IndexSelect(0, Tensor.From(keep.Select(r => (long)r).ToArray(), keep.Length));
            }
            var t = clips.Size(2);
            var frame = clips.Narrow(2, t / 2, 1);
            Tensor features;
            if (raw)
            {
                var b = clips.Size(0);
                var s = clips.Size(3);
                features = frame.Reshape(b, 3, s / 4, 4, s / 4, 4).Mean([3, 5]).Reshape(b, -1);
            }
            else
            {
                features = encoder.Tokens(frame.Expand(-1, -1, t, -1, -1).Contiguous()).Mean(1);
            }
            parts.Add(scope.MoveToOuter(features.Float()).DetachFromScope());
            labels.AddRange(keep.Select(r => (long)vb.Labels[r]));
            ids.AddRange(keep.Select(r => vb.VideoIds[r]));
        }
        Tensor all;
        using (var scope = Torch.Torch.NewScope())
        {
            all = scope.MoveToOuter(Torch.Torch.Cat(parts, 0)).DetachFromScope();
        }
        foreach (var p in parts)
        {
            p.Dispose();
        }
        return new CachedFeatures(all, [.. labels], [.. ids], new Dictionary<string, string>());
    }

    private static double RidgeTop1(CachedFeatures train, CachedFeatures test, int numClasses)
    {
        using var probe = ClosedFormProbe.Fit(train.Features, train.Labels, numClasses, 1e-1);
        return probe.Accuracy(test.Features, test.Labels);
    }

    private static string Pct(Cell c) => string.Create(CultureInfo.InvariantCulture, $"{c.Top1 * 100:F1} [{c.Low * 100:F1}, {c.High * 100:F1}]");

    internal static string Table(IReadOnlyList<MethodResult> results, int classes, double rawFrame, ScratchResult? scratch = null, int probeSeeds = 1, int attentiveHeads = 0, int probeBlock = 0)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var heads = probeSeeds > 1 ? string.Create(inv, $" (linear and attentive: the mean of {probeSeeds} heads per grid point, chosen by their mean)") : string.Empty;
        heads += attentiveHeads > 0 ? string.Create(inv, $"; attentive probe with {attentiveHeads} attention heads") : string.Empty;
        heads += probeBlock > 0 ? string.Create(inv, $"; every probe reads the raw tokens of encoder block {probeBlock}") : string.Empty;
        sb.AppendLine(string.Create(inv, $"Top-1 % on the test split [95% bootstrap CI]; probe hyperparameters chosen on dev{heads}; chance {100.0 / classes:F1}%"));
        sb.AppendLine();
        sb.AppendLine("| method | set | encoder | linear | attentive | kNN | pretraining |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            var pretraining = string.Create(inv, $"{r.Steps} steps, {TimeSpan.FromSeconds(r.WallSeconds):mm\\:ss}{(r.Capped ? " (capped)" : string.Empty)}, loss {r.FinalLoss:F4}");
            foreach (var (set, random, trained) in new[] { ("nuisance", r.Random, r.Pretrained), ("transfer", r.TransferRandom, r.TransferPretrained) })
            {
                sb.AppendLine($"| {r.Method} | {set} | random | {Pct(random["linear"])} | {Pct(random["attentive"])} | {Pct(random["knn"])} | |");
                sb.AppendLine($"| {r.Method} | {set} | pretrained | {Pct(trained["linear"])} | {Pct(trained["attentive"])} | {Pct(trained["knn"])} | {(set == "nuisance" ? pretraining : string.Empty)} |");
            }
        }
        sb.AppendLine();
        if (scratch is { } s)
        {
            var t = s.Test;
            sb.AppendLine(string.Create(inv, $"- supervised from scratch ({Path.GetFileName(s.Recipe)}: the quick-start ViT trained on the {s.TrainClips} labeled training clips, epoch chosen on dev): test top-1 {Pct(t)} (dev {t.DevTop1 * 100:F1}; {t.Chosen} of {s.Steps}; {TimeSpan.FromSeconds(s.WallSeconds):mm\\:ss}{(s.Capped ? ", capped" : string.Empty)})"));
        }
        foreach (var r in results)
        {
            sb.AppendLine(string.Create(inv, $"- {r.Method}: attentive gain (pretrained - random) {(r.Pretrained["attentive"].Top1 - r.Random["attentive"].Top1) * 100:+0.0;-0.0} points; frame-level check (ridge on the pretrained encoder's features of the middle frame alone) {r.FrameProbeTop1 * 100:F1}%{(r.Method == SupervisedTask.MethodName ? "; trained on the pool's labels: the yardstick for the self-supervised rows, not one of them" : string.Empty)}"));
        }
        sb.AppendLine(string.Create(inv, $"- frame-level check on raw pixels (ridge on 4x4 block means of the middle frame): {rawFrame * 100:F1}% (chance {100.0 / classes:F1}%)"));
        return sb.ToString();
    }
}
