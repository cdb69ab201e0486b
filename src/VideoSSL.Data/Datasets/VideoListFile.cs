using System.Globalization;

namespace VideoSSL.Data.Datasets;

/// <summary>
/// Reads VideoMAE-style list files: one <c>path label</c> per line (space-separated, label an integer),
/// or the VideoMAE V2 pretraining form <c>path start_idx total_frames</c> (<c>path 0 -1</c> for videos),
/// whose samples carry no label (-1). Relative paths are taken from <c>root</c>.
/// </summary>
public static class VideoListFile
{
    public static VideoDataset Read(string listPath, string root, Action<string>? log = null)
    {
        if (!File.Exists(listPath))
        {
            throw new FileNotFoundException($"list file not found: {listPath}", listPath);
        }
        string[] lines = File.ReadAllLines(listPath);
        var annotated = new List<VideoSample>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            string text = lines[i].Trim();
            if (text.Length == 0)
            {
                continue;
            }
            string[] tokens = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            bool lastIsInt = TryInt(tokens[^1], out int last);
            if (tokens.Length < 2 || !lastIsInt)
            {
                throw new InvalidDataException($"{listPath}:{i + 1}: expected 'path label' or 'path start_idx total_frames', got '{text}'");
            }
            int label;
            int pathTokens;
            // Three integers at the end of the V2 form; a path made of a name and a number would read the
            // same, which no real list holds.
            if (tokens.Length >= 3 && TryInt(tokens[^2], out _))
            {
                label = -1;
                pathTokens = tokens.Length - 2;
            }
            else
            {
                label = last;
                pathTokens = tokens.Length - 1;
                if (label < -1)
                {
                    throw new InvalidDataException($"{listPath}:{i + 1}: label {label} is negative");
                }
            }
            // Paths with spaces (Kinetics class folders) survive because only the trailing numbers are split off.
            string relative = string.Join(' ', tokens, 0, pathTokens);
            string path = Path.IsPathRooted(relative) ? relative : Path.Combine(root, relative);
            annotated.Add(new VideoSample(path, label));
        }
        var classIndex = new Dictionary<string, int>();
        foreach (int label in annotated.Select(s => s.Label).Where(l => l >= 0).Distinct().Order())
        {
            classIndex[label.ToString(CultureInfo.InvariantCulture)] = label;
        }
        return VideoDataset.FromAnnotations(annotated, classIndex, listPath, log);
    }

    private static bool TryInt(string s, out int value) => int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
}
