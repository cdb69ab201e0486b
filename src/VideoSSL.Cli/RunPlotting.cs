using System.CommandLine;
using VideoSSL.Methods;
using VideoSSL.Plots;
using VideoSSL.Training;

namespace VideoSSL.Cli;

/// <summary>Turns what the training loop reports into the run folder's pictures.</summary>
internal static class RunPlotting
{
    public static PretrainHooks Hooks(RunDirectory run) => new()
    {
        OnReconstruction = (step, sample) => SaveReconstruction(run, step, sample),
        OnMasks = (step, picture) => SaveMasks(run, step, picture),
        OnCheckpoint = r => RunPlots.Regenerate(r.Path),
    };

    /// <summary>Rows: original frames, the encoder's view (masked patches grey), the reconstruction in pixels.</summary>
    public static string SaveReconstruction(RunDirectory run, long step, ReconstructionSample sample)
    {
        var grid = new ImageGrid { Title = $"masked reconstruction, step {step}" };
        var frameSize = sample.Height * sample.Width * 3;
        RgbImage?[] Row(float[] frames) =>
            [.. Enumerable.Range(0, sample.Frames).Select(t => RgbImage.FromFloats(frames.AsSpan(t * frameSize, frameSize), sample.Width, sample.Height))];
        grid.ColumnLabels = [.. Enumerable.Range(0, sample.Frames).Select(t => $"t={t}")];
        grid.AddRow("original", Row(sample.Original));
        grid.AddRow("masked", Row(sample.Masked));
        grid.AddRow("reconstruction", Row(sample.Reconstruction));
        var png = grid.ToPng();
        var path = Path.Combine(run.PlotDir, "reconstruction.png");
        File.WriteAllBytes(path + ".tmp", png);
        File.Move(path + ".tmp", path, overwrite: true);
        File.Copy(path, Path.Combine(run.PlotDir, $"reconstruction-{step:D7}.png"), overwrite: true);
        var image = grid.Render();
        run.TensorBoard.AddImage("reconstruction", png, image.Width, image.Height, step);
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
        var runDir = new Argument<string>("run-dir") { Description = "a run folder (holds metrics.jsonl)" };
        var command = new Command("plot", "Redraw a run's loss, lr and evaluation curves from its metrics.jsonl") { runDir };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(runDir)!;
            return CliErrors.Guard(() =>
            {
                foreach (var file in RunPlots.Regenerate(dir))
                {
                    Console.WriteLine(file);
                }
            });
        });
        return command;
    }
}
