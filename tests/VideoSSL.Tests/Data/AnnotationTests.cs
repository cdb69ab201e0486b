using VideoSSL.Data.Datasets;

namespace VideoSSL.Tests.Data;

public class AnnotationTests
{
    [Fact]
    public void Csv_QuotedFieldsWithCommasQuotesAndNewlines()
    {
        string text = "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n\nlast,,\n";
        List<CsvRecord> records = CsvReader.Parse(text, "t.csv");
        Assert.Equal(3, records.Count);
        Assert.Equal(["x, y", "say \"hi\"", "two\nlines"], records[1].Fields);
        Assert.Equal(2, records[1].Line);
        Assert.Equal(["last", "", ""], records[2].Fields);
        Assert.Equal(5, records[2].Line);  // after the embedded newline and the blank line
    }

    [Fact]
    public void Csv_Malformed_NamesFileAndLine()
    {
        var unterminated = Assert.Throws<InvalidDataException>(() => CsvReader.Parse("a,b\nok,1\n\"open,2\n", "bad.csv"));
        Assert.StartsWith("bad.csv:3:", unterminated.Message);
        var stray = Assert.Throws<InvalidDataException>(() => CsvReader.Parse("a,b\nx\"y,1\n", "bad.csv"));
        Assert.StartsWith("bad.csv:2:", stray.Message);
        var trailing = Assert.Throws<InvalidDataException>(() => CsvReader.Parse("\"a\"b,c\n", "bad.csv"));
        Assert.StartsWith("bad.csv:1:", trailing.Message);
    }

    [Fact]
    public void Kinetics_ReadsFlatAndClassFolders_SortedClassIndex()
    {
        using var dir = new TempDir();
        string csv = dir.File("k400/train.csv",
            "label,youtube_id,time_start,time_end,split\n"
            + "\"passing American football (in game)\",abc-_123XYZ,14,24,train\n"
            + "abseiling,---QUuC4vJs,84,94,train\n"
            + "playing guitar,zzz,0,10,train\n"
            + "abseiling,missing1,5,15,train\n");
        dir.File("videos/passing American football (in game)/abc-_123XYZ_000014_000024.mp4");
        dir.File("videos/---QUuC4vJs_000084_000094.mp4");              // flat
        dir.File("videos/playing_guitar/zzz_000000_000010.mp4");        // spaces replaced by '_'
        var log = new List<string>();

        VideoDataset ds = KineticsCsv.Read(csv, Path.Combine(dir.Path, "videos"), log: log.Add);

        Assert.Equal(["abseiling", "passing American football (in game)", "playing guitar"], ds.ClassNames);
        Assert.Equal(3, ds.Count);
        Assert.Equal(1, ds[0].Label);
        Assert.Equal("abc-_123XYZ_000014_000024", ds[0].Id);
        Assert.Equal(0, ds[1].Label);
        Assert.EndsWith(Path.Combine("videos", "---QUuC4vJs_000084_000094.mp4"), ds[1].Path);
        Assert.EndsWith(Path.Combine("playing_guitar", "zzz_000000_000010.mp4"), ds[2].Path);
        Assert.True(File.Exists(ds[2].Path));
        // The missing one is reported, not thrown, and kept aside.
        VideoSample missing = Assert.Single(ds.Missing);
        Assert.Equal("missing1_000005_000015", missing.Id);
        string report = Assert.Single(log);
        Assert.Contains("1 of 4", report);
        Assert.Contains("missing1_000005_000015.mp4", report);
    }

    [Fact]
    public void Kinetics700_IsCcColumn_And_TestSplitWithoutLabel_And_SharedClassIndex()
    {
        using var dir = new TempDir();
        dir.File("v/b/id1_000001_000011.mp4");
        dir.File("v/id2_000002_000012.mp4");
        string train = dir.File("train.csv", "label,youtube_id,time_start,time_end,split,is_cc\nb,id1,1,11,train,0\na,idA,3,13,train,1\n");
        string val = dir.File("val.csv", "label,youtube_id,time_start,time_end,split,is_cc\nb,id1,1,11,val,0\n");
        string test = dir.File("test.csv", "youtube_id,time_start,time_end,split\nid2,2,12,test\n");
        string root = Path.Combine(dir.Path, "v");

        VideoDataset trainSet = KineticsCsv.Read(train, root);
        VideoDataset valSet = KineticsCsv.Read(val, root, trainSet.ClassIndex);
        VideoDataset testSet = KineticsCsv.Read(test, root, trainSet.ClassIndex);

        Assert.Equal(1, Assert.Single(valSet.Samples).Label);  // "b" is id 1 in the training index
        VideoSample t = Assert.Single(testSet.Samples);
        Assert.Equal(-1, t.Label);
        Assert.Null(t.ClassName);
    }

    [Fact]
    public void Kinetics_Malformed_NamesFileAndLine()
    {
        using var dir = new TempDir();
        string badTime = dir.File("a.csv", "label,youtube_id,time_start,time_end,split\nx,id,1,11,train\nx,id,one,11,train\n");
        var e1 = Assert.Throws<InvalidDataException>(() => KineticsCsv.Read(badTime, dir.Path));
        Assert.Contains("a.csv:3:", e1.Message);
        Assert.Contains("time_start", e1.Message);

        string shortRow = dir.File("b.csv", "label,youtube_id,time_start,time_end,split\nx,id,1,11\n");
        var e2 = Assert.Throws<InvalidDataException>(() => KineticsCsv.Read(shortRow, dir.Path));
        Assert.Contains("b.csv:2:", e2.Message);

        string badHeader = dir.File("c.csv", "name,video\nx,y\n");
        Assert.Contains("c.csv:1:", Assert.Throws<InvalidDataException>(() => KineticsCsv.Read(badHeader, dir.Path)).Message);

        string unknown = dir.File("d.csv", "label,youtube_id,time_start,time_end,split\nnew class,id,1,11,val\n");
        var index = new Dictionary<string, int> { ["old class"] = 0 };
        var e4 = Assert.Throws<InvalidDataException>(() => KineticsCsv.Read(unknown, dir.Path, index));
        Assert.Contains("d.csv:2:", e4.Message);
        Assert.Contains("new class", e4.Message);
    }

    [Fact]
    public void ListFile_PathLabel_AndV2Triplets_AndPathsWithSpaces()
    {
        using var dir = new TempDir();
        dir.File("root/a/x.mp4");
        dir.File("root/playing guitar/y.mp4");
        dir.File("root/z.mp4");
        string list = dir.File("train.txt", "a/x.mp4 3\n\nplaying guitar/y.mp4 0\nz.mp4 0 -1\nnot/here.mp4 1\n");
        var log = new List<string>();

        VideoDataset ds = VideoListFile.Read(list, Path.Combine(dir.Path, "root"), log.Add);

        Assert.Equal(3, ds.Count);
        Assert.Equal(3, ds[0].Label);
        Assert.Equal(0, ds[1].Label);
        Assert.EndsWith(Path.Combine("playing guitar", "y.mp4"), ds[1].Path);
        Assert.Equal(-1, ds[2].Label);
        Assert.Single(ds.Missing);
        Assert.Contains("1 of 4", Assert.Single(log));
        Assert.Equal(new Dictionary<string, int> { ["0"] = 0, ["1"] = 1, ["3"] = 3 }, ds.ClassIndex);
    }

    [Fact]
    public void ListFile_Malformed_NamesFileAndLine()
    {
        using var dir = new TempDir();
        string list = dir.File("l.txt", "a.mp4 1\nb.mp4 cat\n");
        var e = Assert.Throws<InvalidDataException>(() => VideoListFile.Read(list, dir.Path));
        Assert.StartsWith(list + ":2:", e.Message);
        string lone = dir.File("m.txt", "a.mp4 1\n\njustapath.mp4\n");
        Assert.StartsWith(lone + ":3:", Assert.Throws<InvalidDataException>(() => VideoListFile.Read(lone, dir.Path)).Message);
    }

    private const string Labels = "{\n  \"Holding something next to something\": \"0\",\n  \"Pushing something from left to right\": \"1\"\n}\n";

    [Fact]
    public void Ssv2_TemplateWithoutBracketsGivesClass()
    {
        using var dir = new TempDir();
        string labels = dir.File("labels.json", Labels);
        string train = dir.File("train.json", """
            [
              {"id": "78687", "label": "holding potato next to vicks vaporub bottle", "template": "Holding [something] next to [something]", "placeholders": ["potato", "bottle"]},
              {"id": "42326", "label": "pushing a pen from left to right", "template": "Pushing [something] from left to right", "placeholders": ["a pen"]},
              {"id": "99", "label": "gone", "template": "Pushing [something] from left to right", "placeholders": ["x"]}
            ]
            """);
        string test = dir.File("test.json", "[{\"id\": \"78687\"}]");
        dir.File("videos/78687.webm");
        dir.File("videos/42326.webm");
        string videos = Path.Combine(dir.Path, "videos");

        VideoDataset ds = Ssv2Json.Read(labels, train, videos);
        Assert.Equal(2, ds.Count);
        Assert.Equal(0, ds[0].Label);
        Assert.Equal("78687", ds[0].Id);
        Assert.Equal(1, ds[1].Label);
        Assert.Equal("Pushing something from left to right", ds[1].ClassName);
        Assert.Equal("99", Assert.Single(ds.Missing).Id);

        VideoDataset testSet = Ssv2Json.Read(labels, test, videos);
        Assert.Equal(-1, Assert.Single(testSet.Samples).Label);
    }

    [Fact]
    public void Ssv2_Malformed_NamesFileAndLine()
    {
        using var dir = new TempDir();
        string labels = dir.File("labels.json", Labels);
        string unknown = dir.File("u.json", "[\n  {\"id\": \"1\", \"template\": \"Holding [something] next to [something]\"},\n  {\"id\": \"2\", \"template\": \"Dancing [something]\"}\n]");
        var e1 = Assert.Throws<InvalidDataException>(() => Ssv2Json.Read(labels, unknown, dir.Path));
        Assert.StartsWith(unknown + ":3:", e1.Message);
        Assert.Contains("Dancing [something]", e1.Message);

        string broken = dir.File("b.json", "[\n  {\"id\": \"1\",\n  \"template\": }\n]");
        Assert.StartsWith(broken + ":3:", Assert.Throws<InvalidDataException>(() => Ssv2Json.Read(labels, broken, dir.Path)).Message);

        string noId = dir.File("n.json", "[\n{\"template\": \"Holding [something] next to [something]\"}\n]");
        Assert.StartsWith(noId + ":2:", Assert.Throws<InvalidDataException>(() => Ssv2Json.Read(labels, noId, dir.Path)).Message);

        string badLabels = dir.File("bl.json", "{\n \"A\": \"0\",\n \"B\": \"zero\"\n}");
        Assert.StartsWith(badLabels + ":3:", Assert.Throws<InvalidDataException>(() => Ssv2Json.ReadLabels(badLabels)).Message);
    }

    [Fact]
    public void ClassIndex_SaveLoadRoundTrip_AndRejectsRepeatedIds()
    {
        using var dir = new TempDir();
        var index = new Dictionary<string, int> { ["b c"] = 1, ["a"] = 0, ["d\"e"] = 2 };
        string path = Path.Combine(dir.Path, "run", "classes.json");
        VideoDataset.SaveClassIndex(index, path);
        Assert.Equal(index, VideoDataset.LoadClassIndex(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp*"));

        string bad = dir.File("bad.json", "{\"a\": 0, \"b\": 0}");
        Assert.Throws<InvalidDataException>(() => VideoDataset.LoadClassIndex(bad));
    }
}
