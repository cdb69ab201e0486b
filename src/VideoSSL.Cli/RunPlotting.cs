using System.CommandLine;
using VideoSSL.Methods;
using VideoSSL.Plots;
using VideoSSL.Training;

namespace VideoSSL.Cli;

/// <summary>Turns what the training loop reports into the run folder's pictures.</summary>
internal static class RunPlotting
{
    public static PretrainHooks Hooks(RunDirectory run, StopSignal? stop = null) => new()
    {
        OnReconstruction = (step, sample) => SaveReconstruction(run, step, sample),
        OnCheckpoint = r => RunPlots.Regenerate(r.Path),
        Stop = stop,
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
