using System.Collections.Concurrent;
using System.CommandLine;
using System.Globalization;
using VideoSSL.Data;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Synthetic;
using VideoSSL.Data.Video;
using VideoSSL.Plots;
using VideoSSL.Training.Config;

namespace VideoSSL.Cli;

/// <summary><c>videossl data synth | frames | check | show</c>: make, inspect and validate video datasets.</summary>
internal static class DataCommand
{
    public static Command Create() => new("data", "Write synthetic datasets, dump decoded frames, check and show dataset samples")
    {
        SynthCommand(),
        NuisanceCommand(),
        FramesCommand(),
        CheckCommand(),
        ShowCommand(),
    };

    // ---- synth ----------------------------------------------------------------------------------------------

    private static Command SynthCommand()
    {
        var output = new Option<string>("--out") { Description = "Folder to write into (kinetics/ and ssv2/ below it)", Required = true };
        var format = new Option<string>("--format") { Description = "kinetics, ssv2 or both", DefaultValueFactory = _ => "both" };
        var classes = new Option<int>("--classes") { Description = $"Number of classes (1..{SyntheticVideo.Classes.Count})", DefaultValueFactory = _ => SyntheticVideo.Classes.Count };
        var train = new Option<int>("--train-per-class") { Description = "Training clips per class", DefaultValueFactory = _ => 8 };
        var val = new Option<int>("--val-per-class") { Description = "Validation clips per class", DefaultValueFactory = _ => 2 };
        var size = new Option<string>("--size") { Description = "Frame size, S (square) or WxH; both even", DefaultValueFactory = _ => "64" };
        var frames = new Option<int>("--frames") { Description = "Frames per clip", DefaultValueFactory = _ => 32 };
        var fps = new Option<int>("--fps") { Description = "Frame rate", DefaultValueFactory = _ => 8 };
        var seed = new Option<int>("--seed") { Description = "Seed: the same seed writes the same files", DefaultValueFactory = _ => 0 };
        var command = new Command("synth", "Write a synthetic dataset in the Kinetics and/or Something-Something v2 layout")
        {
            output, format, classes, train, val, size, frames, fps, seed,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            (int width, int height) = ParseSize(parse.GetValue(size)!);
            int classCount = parse.GetValue(classes);
            if (classCount < 1 || classCount > SyntheticVideo.Classes.Count)
            {
                throw new ArgumentException($"--classes {classCount}: synthetic data has 1..{SyntheticVideo.Classes.Count} classes");
            }
            if (parse.GetValue(frames) < 1 || parse.GetValue(fps) < 1 || parse.GetValue(train) < 0 || parse.GetValue(val) < 0)
            {
                throw new ArgumentException("--frames and --fps must be positive, clip counts non-negative");
            }
            var options = new SyntheticDatasetOptions
            {
                Clip = new SyntheticClipOptions(width, height, parse.GetValue(frames), parse.GetValue(fps)),
                TrainPerClass = parse.GetValue(train),
                ValPerClass = parse.GetValue(val),
                Seed = parse.GetValue(seed),
                ClassIds = [.. Enumerable.Range(0, classCount)],
            };
            WriteSynthetic(parse.GetValue(output)!, parse.GetValue(format)!, options, Console.WriteLine);
            return 0;
        }));
        return command;
    }

    private static Command NuisanceCommand()
    {
        var output = new Option<string>("--out") { Description = "Folder to write into (kinetics/ and, with --ssv2, ssv2/ below it)", Required = true };
        var ssv2 = new Option<bool>("--ssv2") { Description = "Also write the Something-Something v2 layout (webm + JSON)" };
        var transfer = new Option<bool>("--transfer") { Description = "Draw the transfer set's nuisance statistics (other palettes, textures, backgrounds; more distractors and camera jitter)" };
        var defaults = new NuisanceDatasetOptions();
        var transferDefaults = NuisanceDatasetOptions.Transfer;
        // Counts and seed default to the benchmark's labeled set, or with --transfer to its transfer set.
        string Default(Func<NuisanceDatasetOptions, int> value) => $"default {value(defaults)}; {value(transferDefaults)} with --transfer";
        var classes = new Option<int>("--classes") { Description = $"Number of classes (1..{NuisanceVideo.Classes.Count})", DefaultValueFactory = _ => defaults.Classes };
        var train = new Option<int?>("--train-per-class") { Description = Default(o => o.TrainPerClass) };
        var dev = new Option<int?>("--dev-per-class") { Description = Default(o => o.DevPerClass) };
        var test = new Option<int?>("--test-per-class") { Description = Default(o => o.TestPerClass) };
        var size = new Option<int>("--size") { Description = "Frame side (even)", DefaultValueFactory = _ => defaults.Size };
        var frames = new Option<int>("--frames") { DefaultValueFactory = _ => defaults.Frames };
        var seed = new Option<int?>("--seed") { Description = Default(o => o.Seed) };
        var command = new Command("nuisance", "Write the labeled nuisance-rich motion set (train/dev/test) in the Kinetics and optionally SSv2 layout")
        {
            output, ssv2, transfer, classes, train, dev, test, size, frames, seed,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            if (parse.GetValue(size) % 2 != 0 || parse.GetValue(size) < 8)
            {
                throw new ArgumentException($"--size {parse.GetValue(size)}: must be even and at least 8 (yuv420p)");
            }
            var basis = parse.GetValue(transfer) ? transferDefaults : defaults;
            var options = basis with
            {
                Classes = parse.GetValue(classes),
                TrainPerClass = parse.GetValue(train) ?? basis.TrainPerClass,
                DevPerClass = parse.GetValue(dev) ?? basis.DevPerClass,
                TestPerClass = parse.GetValue(test) ?? basis.TestPerClass,
                Size = parse.GetValue(size),
                Frames = parse.GetValue(frames),
                Seed = parse.GetValue(seed) ?? basis.Seed,
                Ssv2 = parse.GetValue(ssv2),
            };
            string root = parse.GetValue(output)!;
            if (!NuisanceDatasetWriter.Ensure(root, options, Console.WriteLine))
            {
                Console.WriteLine($"{root} already holds this set");
            }
            string k = NuisanceDatasetWriter.KineticsDir(root);
            Console.WriteLine($"kinetics: --format kinetics --root {Path.Combine(k, "train")} --annotations {Path.Combine(k, "train.csv")} (dev.csv, test.csv beside it)");
            return 0;
        }));
        return command;
    }

    /// <summary>Writes <c>{outDir}/kinetics</c> and/or <c>{outDir}/ssv2</c> and says how to read each back.</summary>
    internal static void WriteSynthetic(string outDir, string format, SyntheticDatasetOptions options, Action<string> log)
    {
        string f = format.ToLowerInvariant();
        if (f is not ("kinetics" or "ssv2" or "both"))
        {
            throw new ArgumentException($"--format '{format}': expected kinetics, ssv2 or both");
        }
        if (options.Clip.Width % 2 != 0 || options.Clip.Height % 2 != 0 || options.Clip.Width < 2 || options.Clip.Height < 2)
        {
            throw new ArgumentException($"--size {options.Clip.Width}x{options.Clip.Height}: both sides must be even and positive (yuv420p)");
        }
        SyntheticClipOptions c = options.Clip;
        string shape = $"{c.Width}x{c.Height}, {c.Frames} frames at {c.Fps} fps, seed {options.Seed}";
        if (f is "kinetics" or "both")
        {
            string dir = Path.Combine(outDir, "kinetics");
            SyntheticDatasetWriter.WriteKinetics(dir, options, log);
            log($"kinetics ({shape}): --format kinetics --root {Path.Combine(dir, "train")} --annotations {Path.Combine(dir, "train.csv")}");
        }
        if (f is "ssv2" or "both")
        {
            string dir = Path.Combine(outDir, "ssv2");
            SyntheticDatasetWriter.WriteSsv2(dir, options, log);
            log($"ssv2 ({shape}): --format ssv2 --root {Path.Combine(dir, "videos")} --annotations {Path.Combine(dir, SyntheticDatasetWriter.Ssv2TrainFile)}");
        }
    }

    // ---- frames ---------------------------------------------------------------------------------------------

    private static Command FramesCommand()
    {
        var video = new Argument<string>("video") { Description = "Video file" };
        var indices = new Option<string>("--indices") { Description = "Comma-separated frame indices, e.g. 0,17,33", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for the PNGs ({name}_{index:06}.png)", Required = true };
        var shortSide = new Option<int?>("--short-side") { Description = "Resize on decode so the short side is S (even-rounded)" };
        var command = new Command("frames", "Write exactly the decoded frames at the given indices as PNG") { video, indices, output, shortSide };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            int[] wanted = ParseIndices(parse.GetValue(indices)!);
            foreach (string path in WriteFrames(parse.GetValue(video)!, wanted, parse.GetValue(output)!, parse.GetValue(shortSide), Console.Error.WriteLine))
            {
                Console.WriteLine(path);
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Decodes <paramref name="indices"/> and writes each frame as <c>{outDir}/{video name}_{index:06}.png</c>; returns the paths.</summary>
    internal static List<string> WriteFrames(string video, IReadOnlyList<int> indices, string outDir, int? shortSide = null, Action<string>? warn = null)
    {
        if (indices.Count == 0)
        {
            throw new ArgumentException("--indices: no frame index given");
        }
        if (shortSide is < 1)
        {
            throw new ArgumentException($"--short-side {shortSide} must be positive");
        }
        using VideoReader reader = VideoReader.Open(video);
        foreach (int index in indices.Where(i => reader.Info.FrameCountExact && i >= reader.Info.FrameCount).Distinct())
        {
            warn?.Invoke($"warning: {video} has {reader.Info.FrameCount} frames; index {index} gives the last one");
        }
        Clip clip = reader.Read([.. indices], shortSide is int s ? FrameResize.ToShortSide(s) : FrameResize.None);
        Directory.CreateDirectory(outDir);
        string stem = Path.GetFileNameWithoutExtension(video);
        var written = new List<string>(indices.Count);
        for (int t = 0; t < clip.Frames; t++)
        {
            string path = Path.Combine(outDir, string.Create(CultureInfo.InvariantCulture, $"{stem}_{indices[t]:D6}.png"));
            File.WriteAllBytes(path, PlotStyle.EncodePng(clip.Frame(t), clip.Width, clip.Height));
            written.Add(path);
        }
        return written;
    }

    // ---- check ----------------------------------------------------------------------------------------------

    private static Command CheckCommand()
    {
        var data = new DatasetOptions();
        var deep = new Option<bool>("--deep") { Description = "Also decode the last frame (finds truncated files; decodes the whole video)" };
        var jobs = new Option<int>("--jobs") { Description = "Videos checked in parallel", DefaultValueFactory = _ => Environment.ProcessorCount };
        var allowMissing = new Option<bool>("--allow-missing") { Description = "Do not fail on annotated videos that are not on disk" };
        var command = new Command("check", "Open every video of a dataset and report the unreadable ones; exit 1 if any");
        data.AddTo(command);
        command.Add(deep);
        command.Add(jobs);
        command.Add(allowMissing);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            VideoDataset dataset = data.Open(parse, Console.Error.WriteLine);
            var started = DateTime.UtcNow;
            List<(VideoSample Sample, string Error)> failed = CheckVideos(dataset, parse.GetValue(deep), parse.GetValue(jobs));
            foreach ((VideoSample sample, string error) in failed)
            {
                Console.WriteLine($"unreadable: {error}");
            }
            foreach (VideoSample sample in dataset.Missing)
            {
                Console.WriteLine($"missing: {sample.Path}");
            }
            int ok = dataset.Count - failed.Count;
            Console.WriteLine($"checked {dataset.Count} videos in {(DateTime.UtcNow - started).TotalSeconds:F1} s: {ok} ok, {failed.Count} unreadable, "
                + $"{dataset.Missing.Count} missing; {dataset.ClassCount} classes");
            bool missingFails = dataset.Missing.Count > 0 && !parse.GetValue(allowMissing);
            return failed.Count > 0 || missingFails ? 1 : 0;
        }));
        return command;
    }

    /// <summary>Opens every video (and decodes its first, with <paramref name="deep"/> also its last frame) in parallel; the failures in dataset order.</summary>
    internal static List<(VideoSample Sample, string Error)> CheckVideos(VideoDataset dataset, bool deep, int jobs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(jobs, 1);
        var failures = new ConcurrentBag<(int Index, string Error)>();
        Parallel.For(0, dataset.Count, new ParallelOptions { MaxDegreeOfParallelism = jobs }, i =>
        {
            VideoSample sample = dataset[i];
            try
            {
                using VideoReader reader = VideoReader.Open(sample.Path);
                if (reader.Info.FrameCount < 1)
                {
                    throw new InvalidDataException($"{sample.Path}: the container reports no frames");
                }
                int[] indices = deep ? [0, (int)Math.Min(reader.Info.FrameCount - 1, int.MaxValue)] : [0];
                reader.Read(indices, FrameResize.ToShortSide(16));
            }
            catch (Exception e) when (e is VideoDecodeException or InvalidDataException or IOException)
            {
                // Decode errors already start with the path.
                failures.Add((i, e.Message.StartsWith(sample.Path, StringComparison.Ordinal) ? e.Message : $"{sample.Path}: {e.Message}"));
            }
        });
        return [.. failures.OrderBy(f => f.Index).Select(f => (dataset[f.Index], f.Error))];
    }

    // ---- show -----------------------------------------------------------------------------------------------

    private static Command ShowCommand()
    {
        var data = new DatasetOptions();
        var pipeline = new PipelineCliOptions();
        var index = new Option<int>("--index") { Description = "Dataset index of the sample", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "PNG file to write", Required = true };
        var seed = new Option<int>("--seed") { Description = "Loader seed (the sample's RNG is derived from it as the loader does)", DefaultValueFactory = _ => 0 };
        var epoch = new Option<int>("--epoch") { Description = "Epoch whose augmentation to show", DefaultValueFactory = _ => 0 };
        var views = new Option<string?>("--views")
        {
            Description = "Show a multi-view pretraining item, one row per view: 'svt' (the SVT paper's 2 global + 8 local views; "
                + "the window is --frames x --stride frames at 30 fps, SVT's config: --frames 8 --stride 32) or a pretrain config "
                + "whose method asks for views (its data.num_frames x data.sampling_rate is the window)",
        };
        var command = new Command("show", "Write the frames of one sample as the loader delivers them (sampled, augmented) as a grid PNG");
        data.AddTo(command);
        pipeline.AddTo(command);
        command.Add(index);
        command.Add(output);
        command.Add(seed);
        command.Add(epoch);
        command.Add(views);
        command.SetAction(parse => CliErrors.Run(() =>
        {
            VideoDataset dataset = data.Open(parse, Console.Error.WriteLine);
            VideoPipelineOptions options = pipeline.Read(parse, data.Format(parse));
            string path = parse.GetValue(output)!;
            if (parse.GetValue(views) is { } viewsText)
            {
                (MultiViewSpec spec, options) = ViewsToShow(viewsText, options);
                ShowViews(dataset, parse.GetValue(index), options, spec, parse.GetValue(seed), parse.GetValue(epoch), path);
                Console.WriteLine($"wrote {path}");
                return 0;
            }
            ShowSample(dataset, parse.GetValue(index), options, parse.GetValue(seed), parse.GetValue(epoch), path);
            Console.WriteLine($"wrote {path}");
            return 0;
        }));
        return command;
    }

    /// <summary>Runs the pipeline on one sample with the RNG the loader would give it and writes one grid row per view.</summary>
    internal static void ShowSample(VideoDataset dataset, int index, VideoPipelineOptions options, int seed, int epoch, string path)
    {
        if (index < 0 || index >= dataset.Count)
        {
            throw new ArgumentException($"--index {index}: the dataset has {dataset.Count} samples (0..{dataset.Count - 1})");
        }
        VideoSample sample = dataset[index];
        // Attempt 0 of ClipLoader.ComputeItem: the RNG a sample gets when it loads on the first try.
        var rng = new Random(Seeds.Derive(seed, epoch, index, 0));
        ClipBatchItem item = VideoPipelines.Create(options)(sample, epoch, index, rng);
        var grid = new ImageGrid
        {
            Title = $"{sample.Name}  label {sample.Label}{(sample.ClassName is null ? "" : $" ({sample.ClassName})")}  {options.Protocol}",
            ColumnLabels = [.. Enumerable.Range(0, options.Frames).Select(t => $"t{t}")],
        };
        for (int v = 0; v < options.ViewCount; v++)
        {
            Clip clip = VideoPipelines.Denormalize(item.Data, v, options);
            string label = options.Protocol == PipelineProtocol.Test
                ? $"clip {options.TestView(v).Clip} crop {options.TestView(v).Crop}"
                : $"view {v}";
            grid.AddRow(label, [.. Enumerable.Range(0, clip.Frames).Select(t => (RgbImage?)new RgbImage(clip.Frame(t).ToArray(), clip.Width, clip.Height))]);
        }
        grid.Save(path);
    }

    /// <summary>The views of --views: 'svt', or those the method of a pretrain config asks for, with that config's window.</summary>
    internal static (MultiViewSpec Spec, VideoPipelineOptions Options) ViewsToShow(string views, VideoPipelineOptions options)
    {
        if (views.Equals("svt", StringComparison.OrdinalIgnoreCase))
        {
            return (MultiViewSpec.SvtPaper, options);
        }
        if (!File.Exists(views))
        {
            throw new ConfigException($"--views {views}: expected 'svt' or a pretrain config file, and there is no such file");
        }
        var config = PretrainCommand.WithMethodDefaults(ConfigLoader.Load<PretrainConfig>(views, []));
        using var task = PretrainCommand.CreateTask(config);
        var spec = task.Views ?? throw new ConfigException($"--views {views}: method {config.Method} trains on one clip, not on views");
        return (spec, options with { Frames = config.Data.NumFrames, Stride = config.Data.SamplingRate });
    }

    /// <summary>One multi-view item with the RNG the loader would give it: one grid row per view, as the model receives it (de-normalised).</summary>
    internal static void ShowViews(VideoDataset dataset, int index, VideoPipelineOptions options, MultiViewSpec spec, int seed, int epoch, string path)
    {
        if (index < 0 || index >= dataset.Count)
        {
            throw new ArgumentException($"--index {index}: the dataset has {dataset.Count} samples (0..{dataset.Count - 1})");
        }
        VideoSample sample = dataset[index];
        var writer = MultiViewPipelines.CreateWriter(options, spec);
        var item = new float[writer.ItemSize];
        // Attempt 0 of ClipLoader.ComputeItem, as in ShowSample.
        writer.Write(sample, epoch, index, new Random(Seeds.Derive(seed, epoch, index, 0)), item);
        int columns = spec.Views.Max(v => v.Frames);
        var grid = new ImageGrid
        {
            Title = $"{sample.Name}  label {sample.Label}{(sample.ClassName is null ? "" : $" ({sample.ClassName})")}  {spec.Views.Count} views from one window of {options.Frames}x{options.Stride} frames at 30 fps",
            ColumnLabels = [.. Enumerable.Range(0, columns).Select(t => $"t{t}")],
        };
        grid.Notes.Add("Every frame is scaled to a common cell; each row's label gives the view's frames x side as the model receives it.");
        for (int v = 0; v < spec.Views.Count; v++)
        {
            ViewSpec view = spec.Views[v];
            Clip clip = MultiViewPipelines.Denormalize(item, spec, v, options.Mean, options.Std);
            grid.AddRow($"{view.Name} {view.Frames}x{view.Size}px",
                [.. Enumerable.Range(0, columns).Select(t => t < clip.Frames ? new RgbImage(clip.Frame(t).ToArray(), clip.Width, clip.Height) : null)],
                gapAbove: v > 0 && view.Global != spec.Views[v - 1].Global);
        }
        grid.Save(path);
    }

    // ---- shared parsing -------------------------------------------------------------------------------------

    internal static (int Width, int Height) ParseSize(string text)
    {
        string[] parts = text.Split('x', 'X');
        if (parts.Length is 1 or 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
            && int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int h)
            && w > 0 && h > 0)
        {
            return (w, h);
        }
        throw new ArgumentException($"--size '{text}': expected S or WxH, e.g. 64 or 320x240");
    }

    internal static int[] ParseIndices(string text)
    {
        string[] tokens = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var indices = new int[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            if (!int.TryParse(tokens[i], NumberStyles.None, CultureInfo.InvariantCulture, out indices[i]))
            {
                throw new ArgumentException($"--indices '{text}': '{tokens[i]}' is not a non-negative frame index");
            }
        }
        return indices;
    }
}

/// <summary>--format, --root, --annotations, --labels: which dataset to open, shared by the data and bench commands.</summary>
internal sealed class DatasetOptions
{
    private readonly Option<string> _format = new("--format") { Description = "kinetics, list or ssv2", Required = true };
    private readonly Option<string> _root = new("--root") { Description = "Folder the videos are under", Required = true };
    private readonly Option<string> _annotations = new("--annotations") { Description = "Kinetics CSV, list file or SSv2 split JSON", Required = true };
    private readonly Option<string?> _labels = new("--labels") { Description = "Kinetics class index JSON, or the SSv2 labels JSON (default: next to the split file)" };

    public void AddTo(Command command)
    {
        command.Add(_format);
        command.Add(_root);
        command.Add(_annotations);
        command.Add(_labels);
    }

    public string Format(ParseResult parse) => parse.GetValue(_format)!;

    public VideoDataset Open(ParseResult parse, Action<string> log)
    {
        VideoDataset dataset = DatasetFactory.Open(Format(parse), parse.GetValue(_root)!, parse.GetValue(_annotations)!, parse.GetValue(_labels), log);
        if (dataset.Count == 0)
        {
            throw new InvalidDataException($"{parse.GetValue(_annotations)}: none of the {dataset.Missing.Count} annotated videos is on disk under {parse.GetValue(_root)}");
        }
        return dataset;
    }
}

/// <summary>--protocol, --frames, --stride, --size, --repeats, --flip, --sampling: which pipeline to run.</summary>
internal sealed class PipelineCliOptions
{
    private readonly Option<string> _protocol = new("--protocol") { Description = "pretrain, finetune or test", DefaultValueFactory = _ => "pretrain" };
    private readonly Option<string?> _sampling = new("--sampling") { Description = "kinetics or ssv2 temporal protocol (default: ssv2 for --format ssv2, else kinetics)" };
    private readonly Option<int> _frames = new("--frames") { Description = "Frames per clip", DefaultValueFactory = _ => 16 };
    private readonly Option<int?> _stride = new("--stride") { Description = "Frame stride of dense sampling (default 4, 2 for ssv2)" };
    private readonly Option<int> _size = new("--size") { Description = "Input size (square crop side)", DefaultValueFactory = _ => 224 };
    private readonly Option<int> _repeats = new("--repeats") { Description = "Repeated augmentation: augmented copies per decoded clip", DefaultValueFactory = _ => 1 };
    private readonly Option<bool?> _flip = new("--flip") { Description = "Random horizontal flip (default: off for pretrain, on for fine-tune except ssv2)" };

    public void AddTo(Command command)
    {
        command.Add(_protocol);
        command.Add(_sampling);
        command.Add(_frames);
        command.Add(_stride);
        command.Add(_size);
        command.Add(_repeats);
        command.Add(_flip);
    }

    public VideoPipelineOptions Read(ParseResult parse, string datasetFormat)
    {
        string protocolText = parse.GetValue(_protocol)!;
        PipelineProtocol protocol = protocolText.ToLowerInvariant() switch
        {
            "pretrain" => PipelineProtocol.Pretrain,
            "finetune" => PipelineProtocol.FinetuneTrain,
            "test" => PipelineProtocol.Test,
            _ => throw new ArgumentException($"--protocol '{protocolText}': expected pretrain, finetune or test"),
        };
        string samplingText = parse.GetValue(_sampling) ?? (datasetFormat.Equals("ssv2", StringComparison.OrdinalIgnoreCase) ? "ssv2" : "kinetics");
        SamplingScheme sampling = samplingText.ToLowerInvariant() switch
        {
            "kinetics" => SamplingScheme.Kinetics,
            "ssv2" => SamplingScheme.Ssv2,
            _ => throw new ArgumentException($"--sampling '{samplingText}': expected kinetics or ssv2"),
        };
        var options = new VideoPipelineOptions
        {
            Protocol = protocol,
            Sampling = sampling,
            Frames = parse.GetValue(_frames),
            Stride = parse.GetValue(_stride) ?? (sampling == SamplingScheme.Ssv2 ? 2 : 4),
            InputSize = parse.GetValue(_size),
            Repeats = parse.GetValue(_repeats),
            Flip = parse.GetValue(_flip),
        };
        options.Validate();
        return options;
    }
}
