using System.CommandLine;
using VideoSSL.Methods;
using VideoSSL.Plots;
using VideoSSL.Training;

namespace VideoSSL.Cli;

/// <summary>Turns what the training loop reports into the run folder's pictures; `videossl plot` and `videossl report`.</summary>
internal static class RunPlotting
{
    public static PretrainHooks Hooks(RunDirectory run, StopSignal? stop = null) => new()
    {
        OnReconstruction = (step, sample) => SaveReconstruction(run, step, sample),
        OnMasks = (step, picture) => SaveMasks(run, step, picture),
        OnCheckpoint = r => RunPlots.Regenerate(r.Path),
        Stop = stop,
    };

    /// <summary>
    /// plots/reconstruction.png (the latest) and reconstruction-STEP.png: per fixed clip the original, the encoder's
    /// view, the prediction alone and the error; also logged to TensorBoard.
    /// </summary>
    public static string SaveReconstruction(RunDirectory run, long step, ReconstructionSample sample)
    {
        var voxels = sample.Clips * sample.Frames * sample.Height * sample.Width;
        var grid = ReconstructionGrid.Create($"masked reconstruction, step {step}", sample.Clips, sample.Frames, sample.Height, sample.Width,
            sample.Original, sample.Masked, sample.Prediction ?? sample.Reconstruction, sample.MaskedPixels ?? new bool[voxels], sample.Note);
        var (png, width, height) = grid.Encode();
        var path = Path.Combine(run.PlotDir, "reconstruction.png");
        Directory.CreateDirectory(run.PlotDir);
        File.WriteAllBytes(path + ".tmp", png);
        File.Move(path + ".tmp", path, overwrite: true);
        File.Copy(path, Path.Combine(run.PlotDir, $"reconstruction-{step:D7}.png"), overwrite: true);
        run.TensorBoard.AddImage("reconstruction", png, width, height, step);
        return path;
    }

    /// <summary>
    /// One row per mask generator, one tile per token time slot: context tokens light, prediction targets dark,
    /// tokens cut by the batch-minimum truncation mid grey. Each token is drawn as an 8 × 8 block.
    /// </summary>
    public static string SaveMasks(RunDirectory run, long step, MaskPicture picture)
    {
        const int Cell = 8;
        var grid = new ImageGrid { Title = $"masks (light: context, dark: targets, grey: dropped), step {step}" };
        grid.ColumnLabels = [.. Enumerable.Range(0, picture.Frames).Select(t => $"t'={t}")];
        var (w, h) = (picture.Width * Cell, picture.Height * Cell);
        for (var g = 0; g < picture.Roles.Count; g++)
        {
            var roles = picture.Roles[g];
            var tiles = new RgbImage?[picture.Frames];
            for (var t = 0; t < picture.Frames; t++)
            {
                var pixels = new float[h * w * 3];
                for (var y = 0; y < h; y++)
                {
                    for (var x = 0; x < w; x++)
                    {
                        var role = roles[(t * picture.Height * picture.Width) + (y / Cell * picture.Width) + (x / Cell)];
                        var v = role switch { 1 => 0.9f, 2 => 0.15f, _ => 0.5f };
                        pixels.AsSpan(((y * w) + x) * 3, 3).Fill(v);
                    }
                }
                tiles[t] = RgbImage.FromFloats(pixels, w, h);
            }
            grid.AddRow($"generator {g}", tiles);
        }
        var path = Path.Combine(run.PlotDir, "masks.png");
        File.WriteAllBytes(path + ".tmp", grid.ToPng());
        File.Move(path + ".tmp", path, overwrite: true);
        return path;
    }

    public static Command CreatePlotCommand()
    {
        var runDirs = new Argument<string[]>("run-dir") { Description = "run folders (each holds metrics.jsonl)", Arity = ArgumentArity.OneOrMore };
        var outDir = new Option<string?>("--out") { Description = "where overlaid plots of several runs go (default plots-compare/); one run is redrawn into its own plots/" };
        var command = new Command("plot", "Redraw a run's curves from metrics.jsonl, or overlay several runs on shared axes") { runDirs, outDir };
        command.SetAction(parse =>
        {
            var dirs = parse.GetValue(runDirs)!;
            var output = parse.GetValue(outDir);
            return CliErrors.Guard(() =>
            {
                var written = dirs.Length == 1 && output is null ? RunPlots.Regenerate(dirs[0]) : RunPlots.Overlay(dirs, output ?? "plots-compare");
                foreach (var file in written)
                {
                    Console.WriteLine(file);
                }
            });
        });
        return command;
    }

    public static Command CreateReportCommand()
    {
        var runDirs = new Argument<string[]>("run-dir") { Description = "run folders: pretraining, probes, fine-tuning", Arity = ArgumentArity.OneOrMore };
        var outPath = new Option<string>("--out") { Description = "the HTML file to write", DefaultValueFactory = _ => "report.html" };
        var command = new Command("report", "One self-contained HTML page (images inline, no network) with manifests, config diff, curves, grids and test results") { runDirs, outPath };
        command.SetAction(parse =>
        {
            var dirs = parse.GetValue(runDirs)!;
            var output = parse.GetValue(outPath)!;
            return CliErrors.Guard(() =>
            {
                HtmlReport.Write(dirs, output);
                Console.WriteLine($"wrote {output} ({new FileInfo(output).Length / 1024} KiB, {dirs.Length} runs)");
            });
        });
        return command;
    }
}
