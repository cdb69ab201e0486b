using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using VideoSSL.Data.Loading;
using VideoSSL.Data.Pipelines;
using VideoSSL.Data.Transforms;

namespace VideoSSL.Cli;

/// <summary>
/// Decoded-and-augmented clips per second through the real loader (workers, pipeline, batching), next to
/// tools/reference/bench_data.py doing the same work with PyAV and PIL. The reference reads a VideoMAE list
/// file, so --format list is what runs both.
/// </summary>
internal static class BenchDataCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format") { Description = "kinetics, list or ssv2", DefaultValueFactory = _ => "list" };
        var root = new Option<string>("--root") { Description = "folder the videos are under", Required = true };
        var annotations = new Option<string>("--annotations") { Description = "CSV, list file or SSv2 split JSON", Required = true };
        var labels = new Option<string?>("--labels") { Description = "SSv2 labels JSON" };
        var protocol = new Option<string>("--protocol") { Description = "pretrain (multi-scale crop), finetune (random resized crop) or svt (the SVT paper's 10 views from one window of --frames x --stride at 30 fps)", DefaultValueFactory = _ => "pretrain" };
        var randAugment = new Option<string>("--rand-augment") { Description = "RandAugment policy for --protocol finetune, e.g. rand-m7-n4-mstd0.5-inc1 (default none)", DefaultValueFactory = _ => "" };
        var frames = new Option<int>("--frames") { DefaultValueFactory = _ => 16 };
        var stride = new Option<int>("--stride") { DefaultValueFactory = _ => 4 };
        var size = new Option<int>("--size") { DefaultValueFactory = _ => 224 };
        var workers = new Option<int>("--workers") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 8 };
        var seconds = new Option<double>("--seconds") { DefaultValueFactory = _ => 20 };
        var noReference = new Option<bool>("--no-reference") { Description = "skip the PyAV reference run" };
        var python = new Option<string>("--python") { Description = "interpreter with PyAV for the reference", DefaultValueFactory = _ => "/usr/bin/python3" };
        var command = new Command("data", "Decoded-and-augmented clips/s through the loader, next to a PyAV reference")
        {
            format, root, annotations, labels, protocol, randAugment, frames, stride, size, workers, batch, seconds, noReference, python,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var dataset = DatasetFactory.Open(parse.GetValue(format)!, parse.GetValue(root)!, parse.GetValue(annotations)!, parse.GetValue(labels), Console.WriteLine);
            var options = new VideoPipelineOptions
            {
                Protocol = parse.GetValue(protocol) == "finetune" ? PipelineProtocol.FinetuneTrain : PipelineProtocol.Pretrain,
                Frames = parse.GetValue(frames),
                Stride = parse.GetValue(stride),
                InputSize = parse.GetValue(size),
                RandAugment = RandAugmentPolicy.Parse(parse.GetValue(randAugment)!, "--rand-augment"),
            };
            var workerCount = parse.GetValue(workers);
            var views = parse.GetValue(protocol) == "svt" ? MultiViewSpec.SvtPaper : null;
            var writer = views is null ? VideoPipelines.CreateWriter(options) : MultiViewPipelines.CreateWriter(options, views);
            var loader = new ClipLoader(dataset, writer, new ClipLoaderOptions
            {
                BatchSize = parse.GetValue(batch),
                Workers = workerCount,
                PrefetchBatches = 4,
                DropLast = false,
                RecycleBatchBuffers = true,
            });
            Console.WriteLine(views is null
                ? $"{dataset.Count} videos, {options.Protocol} {options.Frames}x{options.Stride} -> {options.InputSize}, {workerCount} workers"
                : $"{dataset.Count} videos, svt views {string.Join(" ", views.Views.Select(v => $"{v.Frames}x{v.Size}"))} from a window of {options.Frames}x{options.Stride} frames, {workerCount} workers");
            var limit = TimeSpan.FromSeconds(parse.GetValue(seconds));
            long clips = 0;
            var watch = Stopwatch.StartNew();
            for (var epoch = 0; watch.Elapsed < limit; epoch++)
            {
                foreach (var b in loader.Epoch(epoch))
                {
                    clips += b.Size;
                    if (watch.Elapsed >= limit)
                    {
                        break;
                    }
                }
            }
            var ours = clips / watch.Elapsed.TotalSeconds;
            Console.WriteLine($"VideoSSL: {clips} clips in {watch.Elapsed.TotalSeconds:F1} s = {ours:F1} clips/s");
            // Large per-clip buffers are where a managed loader can lose to Python: show what the GC cost.
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"GC: {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} collections (gen0/1/2), {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms paused, {GC.GetTotalAllocatedBytes() / (1 << 20)} MiB allocated"));
            if (parse.GetValue(noReference) || parse.GetValue(format) != "list")
            {
                return;
            }
            if (options.Protocol != PipelineProtocol.Pretrain || views is not null)
            {
                // The reference script implements the pretraining crop only: a ratio against it would compare other work.
                Console.WriteLine("PyAV reference: skipped (tools/reference/bench_data.py does the pretraining protocol only)");
                return;
            }
            var script = BenchCommand.FindScript("tools/reference/bench_data.py");
            if (script is null)
            {
                Console.WriteLine("PyAV reference: tools/reference/bench_data.py not found (run from the repository)");
                return;
            }
            var arguments = string.Create(CultureInfo.InvariantCulture,
                $"{script} --list {parse.GetValue(annotations)} --root {parse.GetValue(root)} --frames {options.Frames} --stride {options.Stride} --size {options.InputSize} --workers {workerCount} --seconds {parse.GetValue(seconds)}");
            using var process = Process.Start(MallocTcache.AsStarted(new ProcessStartInfo(parse.GetValue(python)!, arguments) { RedirectStandardOutput = true, RedirectStandardError = true }))!;
            var output = process.StandardOutput.ReadToEnd();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                Console.WriteLine($"PyAV reference failed: {error.Trim()}");
                return;
            }
            using var json = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            var theirs = json.RootElement.GetProperty("clips_per_s").GetDouble();
            Console.WriteLine($"PyAV {json.RootElement.GetProperty("pyav").GetString()} + PIL: {theirs:F1} clips/s");
            Console.WriteLine($"ratio: {ours / theirs:F2}x");
        }));
        return command;
    }
}
