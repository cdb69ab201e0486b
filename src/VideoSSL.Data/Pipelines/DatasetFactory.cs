using VideoSSL.Data.Datasets;
using VideoSSL.Data.Synthetic;

namespace VideoSSL.Data.Pipelines;

/// <summary>Opens a dataset by format name, as the command line and configs name them.</summary>
public static class DatasetFactory
{
    public static readonly IReadOnlyList<string> Formats = ["kinetics", "list", "ssv2"];

    /// <param name="format"><c>kinetics</c> (official CSV), <c>list</c> (VideoMAE "path label" file) or <c>ssv2</c> (split JSON).</param>
    /// <param name="root">Folder the videos are under.</param>
    /// <param name="annotations">The CSV, list file or SSv2 split JSON.</param>
    /// <param name="labels">
    /// Kinetics: a class index JSON (name → id) saved from the training split, for validation/test splits; null builds
    /// one from the CSV. SSv2: the labels JSON; null looks for something-something-v2-labels.json next to the split
    /// file. Ignored for lists, whose labels are the integers in the file.
    /// </param>
    public static VideoDataset Open(string format, string root, string annotations, string? labels = null, Action<string>? log = null)
    {
        if (!Formats.Contains(format.ToLowerInvariant()))
        {
            throw new ArgumentException($"unknown data format '{format}': must be one of {string.Join(", ", Formats)}");
        }
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"video root not found: {root}");
        }
        if (!File.Exists(annotations))
        {
            throw new FileNotFoundException($"annotation file not found: {annotations}", annotations);
        }
        switch (format.ToLowerInvariant())
        {
            case "kinetics":
                IReadOnlyDictionary<string, int>? index = labels is null ? null : VideoDataset.LoadClassIndex(RequireFile(labels, "class index"));
                return KineticsCsv.Read(annotations, root, index, log);
            case "list":
                return VideoListFile.Read(annotations, root, log);
            case "ssv2":
                string labelsPath = labels ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(annotations))!, SyntheticDatasetWriter.Ssv2LabelsFile);
                return Ssv2Json.Read(RequireFile(labelsPath, "SSv2 labels file"), annotations, root, log);
            default:
                throw new ArgumentException($"unknown data format '{format}': must be one of {string.Join(", ", Formats)}");
        }
    }

    private static string RequireFile(string path, string what) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"{what} not found: {path}", path);
}
