using System.Globalization;
using System.Text;

namespace VideoSSL.Training.Evaluation;

/// <summary>
/// Per-video predictions as CSV: <c>video,label,pred_1,score_1,...,pred_k,score_k</c> (k = 5 or the class count),
/// scores being the view-averaged probabilities ("R" round-trip format). Written atomically.
/// </summary>
public static class PredictionsCsv
{
    public static void Write(string path, IReadOnlyList<VideoPrediction> rows, int topK = 5)
    {
        var k = rows.Count == 0 ? topK : Math.Min(topK, rows[0].Probabilities.Length);
        var text = new StringBuilder();
        text.Append("video,label");
        for (var j = 1; j <= k; j++)
        {
            text.Append(CultureInfo.InvariantCulture, $",pred_{j},score_{j}");
        }
        text.Append('\n');
        foreach (var row in rows)
        {
            text.Append(Escape(row.VideoId)).Append(',').Append(row.Label.ToString(CultureInfo.InvariantCulture));
            foreach (var c in Metrics.TopK(row.Probabilities, k))
            {
                text.Append(',').Append(c.ToString(CultureInfo.InvariantCulture))
                    .Append(',').Append(row.Probabilities[c].ToString("R", CultureInfo.InvariantCulture));
            }
            text.Append('\n');
        }
        var fullPath = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(fullPath) ?? ".", $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temp, text.ToString(), new UTF8Encoding(false));
            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    // RFC 4180: quote a field holding a comma, quote or line break, doubling inner quotes.
    private static string Escape(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;
}
