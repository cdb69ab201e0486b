using VideoSSL.Data;
using VideoSSL.Data.Video;

namespace VideoSSL.Tests.Video;

public sealed class VideoReaderTests(TestVideos videos) : IClassFixture<TestVideos>
{
    private const int N = TestVideos.FrameCount;

    public static TheoryData<string> Codecs => ["h264.mp4", "vp9.webm", "mpeg4.mp4"];

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Sequential_decode_yields_every_frame_in_order(string name)
    {
        using var reader = VideoReader.Open(videos[name]);
        var clip = reader.Read(Enumerable.Range(0, N).ToArray());
        Assert.Equal(Enumerable.Range(0, N), Indices(clip));
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Random_access_frame_equals_the_same_frame_of_a_sequential_decode(string name)
    {
        Clip sequential;
        using (var reader = VideoReader.Open(videos[name]))
        {
            sequential = reader.Read(Enumerable.Range(0, N).ToArray());
        }
        using var random = VideoReader.Open(videos[name]);
        // Forward jumps across keyframes, backward jumps, a keyframe (10, 40) and the frames just before one.
        foreach (var i in (int[])[37, 12, 45, 3, 20, 0, 49, 9, 10, 29, 28, 40])
        {
            var single = random.Read([i]);
            Assert.Equal(i, TestVideos.ReadIndex(single, 0));
            Assert.True(sequential.Frame(i).SequenceEqual(single.Frame(0)), $"frame {i} differs from the sequential decode");
        }
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Forward_reads_that_skip_frames_return_the_same_pixels_as_a_sequential_decode(string name)
    {
        Clip sequential;
        using (var reader = VideoReader.Open(videos[name]))
        {
            sequential = reader.Read(Enumerable.Range(0, N).ToArray());
        }
        // Small gaps decode through (skipping unreferenced frames), large ones seek; neither may change a pixel.
        using var forward = VideoReader.Open(videos[name]);
        foreach (int[] wanted in (int[][])[[2], [7, 8], [15], [16, 19], [31], [33, 34, 38], [47]])
        {
            var clip = forward.Read(wanted);
            for (var t = 0; t < wanted.Length; t++)
            {
                Assert.True(sequential.Frame(wanted[t]).SequenceEqual(clip.Frame(t)), $"frame {wanted[t]} differs from the sequential decode");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Backward_seek_after_a_late_read_finds_early_frames(string name)
    {
        using var reader = VideoReader.Open(videos[name]);
        Assert.Equal([40, 41], Indices(reader.Read([40, 41])));
        Assert.Equal([3, 5], Indices(reader.Read([3, 5])));
        Assert.Equal([4, 44], Indices(reader.Read([4, 44])));
    }

    [Fact]
    public void Unsorted_and_repeated_indices_come_back_in_caller_order()
    {
        using var reader = VideoReader.Open(videos.H264);
        int[] wanted = [30, 2, 30, 17, 2, 0];
        var clip = reader.Read(wanted);
        Assert.Equal(wanted, Indices(clip));
        Assert.True(clip.Frame(0).SequenceEqual(clip.Frame(2)));
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Indices_past_the_end_give_the_last_frame_and_reading_goes_on(string name)
    {
        using var reader = VideoReader.Open(videos[name]);
        Assert.Equal([47, 49, 49, 49], Indices(reader.Read([47, 49, 50, 500])));
        Assert.Equal([49, 12], Indices(reader.Read([1000, 12])));
    }

    [Theory]
    [InlineData("h264.mp4", "h264")]
    [InlineData("mpeg4.mp4", "mpeg4")]
    public void Mp4_metadata_gives_the_exact_frame_count(string name, string codec)
    {
        using var reader = VideoReader.Open(videos[name]);
        var info = reader.Info;
        Assert.Equal((TestVideos.Width, TestVideos.Height), (info.Width, info.Height));
        Assert.Equal(N, info.FrameCount);
        Assert.True(info.FrameCountExact);
        Assert.Equal(TestVideos.Fps, info.Fps, 6);
        Assert.Equal(N / (double)TestVideos.Fps, info.DurationSeconds, 2);
        Assert.Equal(codec, info.Codec);
    }

    [Fact]
    public void Webm_without_a_frame_count_derives_it_from_duration_and_fps()
    {
        using var reader = VideoReader.Open(videos.Vp9);
        var info = reader.Info;
        Assert.Equal((TestVideos.Width, TestVideos.Height, "vp9"), (info.Width, info.Height, info.Codec));
        Assert.Equal(TestVideos.Fps, info.Fps, 6);
        Assert.False(info.FrameCountExact);
        Assert.InRange(info.FrameCount, N - 1, N + 1);
    }

    [Fact]
    public void Threaded_decoding_gives_the_same_pixels()
    {
        int[] wanted = [0, 7, 8, 9, 25, 26, 43, 3];
        using var single = VideoReader.Open(videos.H264, threads: 1);
        using var threaded = VideoReader.Open(videos.H264, threads: 2);
        Assert.Equal(single.Read(wanted).Pixels, threaded.Read(wanted).Pixels);
    }

    [Fact]
    public void Resize_to_short_side_keeps_aspect_with_even_sides()
    {
        using var reader = VideoReader.Open(videos.H264);
        // 64x48 to short side 32: 42.67 rounds to the even 42.
        Assert.Equal((42, 32), reader.OutputSize(FrameResize.ToShortSide(32)));
        var clip = reader.Read([5, 33], FrameResize.ToShortSide(32));
        Assert.Equal((2, 32, 42), (clip.Frames, clip.Height, clip.Width));
        Assert.Equal([5, 33], Indices(clip));

        var upscaled = reader.Read([6], FrameResize.ToShortSide(96));
        Assert.Equal((96, 128), (upscaled.Height, upscaled.Width));
        Assert.Equal(6, TestVideos.ReadIndex(upscaled, 0));
    }

    [Fact]
    public void Resize_to_exact_size()
    {
        using var reader = VideoReader.Open(videos.Vp9);
        var clip = reader.Read([21], FrameResize.Exact(30, 40));
        Assert.Equal((40, 30), (clip.Height, clip.Width));
        Assert.Equal(21, TestVideos.ReadIndex(clip, 0));
    }

    [Fact]
    public void Truncated_webm_opens_and_clamps_to_its_last_decodable_frame()
    {
        using var reader = VideoReader.Open(videos.TruncatedWebm);
        var indices = Indices(reader.Read(Enumerable.Range(0, N).ToArray()));
        // The first half decodes as usual; past the cut every index gives the last frame that survived.
        var end = indices.IndexOf(indices[^1]);
        Assert.InRange(end, 5, N - 5);
        Assert.Equal(Enumerable.Range(0, end + 1), indices.Take(end + 1));
        Assert.All(indices.Skip(end), i => Assert.Equal(end, i));
        Assert.Equal([end, 2], Indices(reader.Read([N - 1, 2])));
    }

    public static TheoryData<string, VideoError> BrokenFiles => new()
    {
        { "truncated.mp4", VideoError.InvalidData },
        { "empty.mp4", VideoError.InvalidData },
        { "random.mp4", VideoError.InvalidData },
        { "sine.m4a", VideoError.NoVideoStream },
        { "unknown-codec.avi", VideoError.UnsupportedCodec },
        { "missing.mp4", VideoError.NotFound },
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void Broken_files_fail_with_their_error_code_and_name_the_file(string name, VideoError error)
    {
        var path = videos[name];
        var e = Assert.Throws<VideoDecodeException>(() => VideoReader.Open(path));
        Assert.Equal(error, e.Error);
        Assert.Equal(path, e.Path);
        Assert.StartsWith(path + ": ", e.Message);
    }

    [Fact]
    public void Bad_arguments_are_rejected_before_decoding()
    {
        using var reader = VideoReader.Open(videos.H264);
        Assert.Throws<ArgumentException>(() => reader.Read([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.Read([3, -1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameResize.ToShortSide(0));
        var e = Assert.Throws<VideoDecodeException>(() => reader.Read([1], new FrameResize(FrameResizeMode.Exact, 0, 5)));
        Assert.Equal(VideoError.InvalidArgument, e.Error);
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.Read([1]));
    }

    private static List<int> Indices(Clip clip) =>
        Enumerable.Range(0, clip.Frames).Select(t => TestVideos.ReadIndex(clip, t)).ToList();
}
