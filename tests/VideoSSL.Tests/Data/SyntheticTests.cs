using VideoSSL.Data;
using VideoSSL.Data.Datasets;
using VideoSSL.Data.Synthetic;

namespace VideoSSL.Tests.Data;

public class SyntheticTests
{
    private static readonly SyntheticClipOptions Small = new(Width: 48, Height: 40, Frames: 12, Fps: 8);

    [Fact]
    public void SameSeed_SameFrames_DifferentSeed_DifferentFrames()
    {
        Clip a = SyntheticVideo.RenderFrames(4, 123, Small);
        Clip b = SyntheticVideo.RenderFrames(4, 123, Small);
        Clip c = SyntheticVideo.RenderFrames(4, 124, Small);
        Assert.Equal(a.Pixels, b.Pixels);
        Assert.NotEqual(a.Pixels, c.Pixels);
        Assert.Equal((12, 40, 48), (a.Frames, a.Height, a.Width));
    }

    /// <summary>Per-frame centroid and area of the pixels that differ from the object-free background.</summary>
    private static (double X, double Y, int Area)[] ObjectTrack(int classId, int seed)
    {
        Clip clip = SyntheticVideo.RenderFrames(classId, seed, Small);
        Clip background = SyntheticVideo.RenderFrames(classId, seed, Small, drawObject: false);
        var track = new (double, double, int)[clip.Frames];
        for (int t = 0; t < clip.Frames; t++)
        {
            ReadOnlySpan<byte> f = clip.Frame(t);
            ReadOnlySpan<byte> g = background.Frame(t);
            double sx = 0, sy = 0;
            int n = 0;
            for (int y = 0; y < clip.Height; y++)
            {
                for (int x = 0; x < clip.Width; x++)
                {
                    int o = (y * clip.Width + x) * 3;
                    if (f[o] != g[o] || f[o + 1] != g[o + 1] || f[o + 2] != g[o + 2])
                    {
                        sx += x;
                        sy += y;
                        n++;
                    }
                }
            }
            track[t] = n > 0 ? (sx / n, sy / n, n) : (double.NaN, double.NaN, 0);
        }
        return track;
    }

    [Theory]
    [InlineData(11)]
    [InlineData(99)]
    public void MotionClasses_MoveAsNamed(int seed)
    {
        var lr = ObjectTrack(0, seed);
        var rl = ObjectTrack(1, seed);
        var up = ObjectTrack(2, seed);
        var down = ObjectTrack(3, seed);
        Assert.True(lr[^1].X - lr[0].X > 8, "left to right: centroid moves right");
        Assert.True(rl[^1].X - rl[0].X < -8, "right to left: centroid moves left");
        Assert.True(up[^1].Y - up[0].Y < -6, "up: centroid moves up (y decreases)");
        Assert.True(down[^1].Y - down[0].Y > 6, "down: centroid moves down");
        Assert.True(Math.Abs(lr[^1].Y - lr[0].Y) < 1.5, "horizontal motion keeps y");

        var grow = ObjectTrack(6, seed);
        var shrink = ObjectTrack(7, seed);
        Assert.True(grow[^1].Area > 2 * grow[0].Area, "approaching: object grows");
        Assert.True(shrink[^1].Area * 2 < shrink[0].Area, "receding: object shrinks");

        var appear = ObjectTrack(8, seed);
        var vanish = ObjectTrack(9, seed);
        Assert.Equal(0, appear[0].Area);
        Assert.True(appear[^1].Area > 0);
        Assert.True(vanish[0].Area > 0);
        Assert.Equal(0, vanish[^1].Area);
    }

    [Fact]
    public void RotationClasses_DifferOnlyInDirection()
    {
        Clip cw = SyntheticVideo.RenderFrames(4, 5, Small);
        Clip ccw = SyntheticVideo.RenderFrames(5, 5, Small);
        // Same scene in the first frame, different after.
        Assert.Equal(cw.Frame(0).ToArray(), ccw.Frame(0).ToArray());
        Assert.NotEqual(cw.Frame(cw.Frames - 1).ToArray(), ccw.Frame(ccw.Frames - 1).ToArray());
        // Mirroring the clockwise clip is not how counter-clockwise is made, but both keep the object in place.
        var a = ObjectTrack(4, 5);
        Assert.True(Math.Abs(a[^1].X - a[0].X) < 2 && Math.Abs(a[^1].Y - a[0].Y) < 2);
    }

    [Fact]
    public void KineticsFormat_WritesAndReparses()
    {
        using var dir = new TempDir();
        var options = new SyntheticDatasetOptions
        {
            Clip = new SyntheticClipOptions(Width: 32, Height: 32, Frames: 8, Fps: 8),
            TrainPerClass = 2,
            ValPerClass = 1,
            Seed = 42,
            ClassIds = [0, 1],
        };
        SyntheticDatasetWriter.WriteKinetics(dir.Path, options);

        VideoDataset train = KineticsCsv.Read(Path.Combine(dir.Path, "train.csv"), Path.Combine(dir.Path, "train"));
        VideoDataset val = KineticsCsv.Read(Path.Combine(dir.Path, "val.csv"), Path.Combine(dir.Path, "val"), train.ClassIndex);
        Assert.Empty(train.Missing);
        Assert.Empty(val.Missing);
        Assert.Equal(4, train.Count);
        Assert.Equal(2, val.Count);
        Assert.Equal(["moving left to right", "moving right to left"], train.ClassNames);
        Assert.All(train.Samples, s =>
        {
            Assert.Matches(@"^[A-Za-z0-9_-]{11}_\d{6}_\d{6}$", s.Id!);
            Assert.Equal(s.ClassName, Path.GetFileName(Path.GetDirectoryName(s.Path)));
            byte[] head = File.ReadAllBytes(s.Path)[4..8];
            Assert.Equal("ftyp"u8.ToArray(), head);  // an mp4 container
        });
    }

    [Fact]
    public void EnsureKinetics_ReusesTheSameSet_RewritesAStaleOne()
    {
        using var dir = new TempDir();
        var options = new SyntheticDatasetOptions
        {
            Clip = new SyntheticClipOptions(Width: 32, Height: 32, Frames: 8, Fps: 8),
            TrainPerClass = 1,
            ValPerClass = 1,
            Seed = 7,
            ClassIds = [0, 1],
        };
        Assert.True(SyntheticDatasetWriter.EnsureKinetics(dir.Path, options));
        string trainCsv = Path.Combine(dir.Path, "train.csv");
        DateTime written = File.GetLastWriteTimeUtc(trainCsv);
        Assert.False(SyntheticDatasetWriter.EnsureKinetics(dir.Path, options));
        Assert.Equal(written, File.GetLastWriteTimeUtc(trainCsv));

        // Other options: the old clips must not be reused, nor left behind under the new CSVs.
        Assert.True(SyntheticDatasetWriter.EnsureKinetics(dir.Path, options with { ClassIds = [2] }));
        VideoDataset train = KineticsCsv.Read(trainCsv, Path.Combine(dir.Path, "train"));
        Assert.Equal(["moving up"], train.ClassNames);
        Assert.Single(Directory.GetDirectories(Path.Combine(dir.Path, "train")));

        // A set without its stamp (an older generator, or a run killed while writing) is written again.
        File.Delete(Path.Combine(dir.Path, SyntheticDatasetWriter.StampFile));
        Assert.True(SyntheticDatasetWriter.EnsureKinetics(dir.Path, options with { ClassIds = [2] }));

        // A real dataset under data.root by mistake: refused, and nothing of it is deleted.
        File.Delete(Path.Combine(dir.Path, SyntheticDatasetWriter.StampFile));
        File.WriteAllText(trainCsv, "label,youtube_id,time_start,time_end,split\nabseiling,abcdefghijk,0,10,train\n");
        var refused = Assert.Throws<IOException>(() => SyntheticDatasetWriter.EnsureKinetics(dir.Path, options));
        Assert.Contains("did not write", refused.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(dir.Path, "train", "moving up")));
        Assert.Contains("abseiling", File.ReadAllText(trainCsv), StringComparison.Ordinal);

        // A folder of real data without the Kinetics CSVs (here SSv2's layout): before, the synthetic clips were written
        // into it; now it is refused and left as it was.
        using var ssv2 = new TempDir();
        Directory.CreateDirectory(Path.Combine(ssv2.Path, "videos"));
        File.WriteAllText(Path.Combine(ssv2.Path, "something-something-v2-labels.json"), "{}");
        var notEmpty = Assert.Throws<IOException>(() => SyntheticDatasetWriter.EnsureKinetics(ssv2.Path, options));
        Assert.Contains("is not empty and has no synthetic.json", notEmpty.Message, StringComparison.Ordinal);
        Assert.Equal(["something-something-v2-labels.json", "videos"], Directory.EnumerateFileSystemEntries(ssv2.Path).Select(Path.GetFileName).Order());

        // A run killed while writing leaves the incomplete stamp and part of the clips: the next run writes the set again.
        using var killed = new TempDir();
        File.WriteAllText(Path.Combine(killed.Path, SyntheticDatasetWriter.StampFile), "{\"incomplete\": true}");
        Directory.CreateDirectory(Path.Combine(killed.Path, "train", "stale class"));
        Assert.True(SyntheticDatasetWriter.EnsureKinetics(killed.Path, options));
        Assert.False(Directory.Exists(Path.Combine(killed.Path, "train", "stale class")));
        Assert.False(SyntheticDatasetWriter.EnsureKinetics(killed.Path, options));
    }

    [Fact]
    public void Ssv2Format_WritesAndReparses()
    {
        using var dir = new TempDir();
        var options = new SyntheticDatasetOptions
        {
            Clip = new SyntheticClipOptions(Width: 32, Height: 32, Frames: 8, Fps: 12),
            TrainPerClass = 1,
            ValPerClass = 1,
            ClassIds = [4, 5],
        };
        SyntheticDatasetWriter.WriteSsv2(dir.Path, options);
        string labels = Path.Combine(dir.Path, SyntheticDatasetWriter.Ssv2LabelsFile);
        VideoDataset train = Ssv2Json.Read(labels, Path.Combine(dir.Path, SyntheticDatasetWriter.Ssv2TrainFile), Path.Combine(dir.Path, "videos"));
        VideoDataset val = Ssv2Json.Read(labels, Path.Combine(dir.Path, SyntheticDatasetWriter.Ssv2ValidationFile), Path.Combine(dir.Path, "videos"));
        Assert.Equal([0, 1], train.Samples.Select(s => s.Label));
        Assert.Equal("Turning something counterclockwise", val[1].ClassName);
        Assert.Empty(val.Missing);
        Assert.All(train.Samples, s => Assert.Equal(new byte[] { 0x1A, 0x45, 0xDF, 0xA3 }, File.ReadAllBytes(s.Path)[..4]));  // EBML: webm
    }
}
