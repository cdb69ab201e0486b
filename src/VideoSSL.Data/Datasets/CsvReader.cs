using System.Text;

namespace VideoSSL.Data.Datasets;

/// <summary>One CSV record and the 1-based line it starts on, so errors can point at the file.</summary>
public sealed record CsvRecord(int Line, IReadOnlyList<string> Fields);

/// <summary>
/// A small RFC 4180 reader: comma-separated fields, double-quoted fields may hold commas, line breaks and
/// doubled quotes (""). CRLF and LF both end a record. Blank lines are skipped.
/// </summary>
public static class CsvReader
{
    public static List<CsvRecord> ReadFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"annotation file not found: {path}", path);
        }
        return Parse(File.ReadAllText(path), path);
    }

    /// <param name="source">Name used in error messages (usually the file path).</param>
    public static List<CsvRecord> Parse(string text, string source)
    {
        var records = new List<CsvRecord>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1;
        int recordLine = 1;
        int i = 0;
        // Skip a UTF-8 byte order mark that File.ReadAllText may leave when the file was written oddly.
        if (text.Length > 0 && text[0] == '\uFEFF')
        {
            i = 1;
        }
        bool fieldStarted = false;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '"' && !fieldStarted && field.Length == 0)
            {
                int quoteLine = line;
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new InvalidDataException($"{source}:{quoteLine}: unterminated quoted field");
                    }
                    char q = text[i];
                    if (q == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (q == '\n')
                    {
                        line++;
                    }
                    field.Append(q);
                    i++;
                }
                fieldStarted = true;
                if (i < text.Length && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                {
                    throw new InvalidDataException($"{source}:{line}: unexpected character '{text[i]}' after closing quote");
                }
                continue;
            }
            if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
                fieldStarted = false;
                i++;
                continue;
            }
            if (c == '\r' || c == '\n')
            {
                fields.Add(field.ToString());
                field.Clear();
                fieldStarted = false;
                EndRecord(records, fields, recordLine);
                i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                line++;
                recordLine = line;
                continue;
            }
            if (c == '"')
            {
                throw new InvalidDataException($"{source}:{line}: quote inside an unquoted field");
            }
            field.Append(c);
            fieldStarted = true;
            i++;
        }
        if (fieldStarted || field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            EndRecord(records, fields, recordLine);
        }
        return records;
    }

    private static void EndRecord(List<CsvRecord> records, List<string> fields, int line)
    {
        bool blank = fields.Count == 1 && fields[0].Length == 0;
        if (!blank)
        {
            records.Add(new CsvRecord(line, fields.ToArray()));
        }
        fields.Clear();
    }
}
