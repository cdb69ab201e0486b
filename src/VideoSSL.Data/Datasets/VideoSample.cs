namespace VideoSSL.Data.Datasets;

/// <summary>One video of a dataset.</summary>
/// <param name="Path">Full path of the video file.</param>
/// <param name="Label">Class id, or -1 where the split carries no label (test splits, pretraining lists).</param>
/// <param name="Id">Dataset-specific id (Kinetics <c>{youtube_id}_{start:06}_{end:06}</c>, SSv2 numeric id).</param>
/// <param name="ClassName">Class name as written in the annotations, where there is one.</param>
public sealed record VideoSample(string Path, int Label, string? Id = null, string? ClassName = null)
{
    /// <summary>The id if there is one, else the file name without extension: what logs and predictions name.</summary>
    public string Name => Id ?? System.IO.Path.GetFileNameWithoutExtension(Path);
}
