/*
 * videossl_av: random-access decoding of video frames to RGB24 (see videossl_av.h).
 *
 * The reader keeps the decoder running between calls: a request for frames ahead of the current
 * position decodes forward, and only a request that goes backwards or lies beyond the next keyframe
 * seeks. Frames are matched to indices by presentation timestamp, never by counting packets, because
 * B-frames reorder packets and a seek lands on an unknown keyframe.
 */
#define _POSIX_C_SOURCE 200809L
#include "videossl_av.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/macros.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* How many decoding errors while waiting for one frame end a read: a corrupt stream fails instead of spinning. */
#define MAX_CONSECUTIVE_ERRORS 64
/* Seek distance, in frames, to assume when the container has no keyframe index and no GOP was seen yet. */
#define DEFAULT_GOP 32

struct vav_reader
{
    char* path;
    AVFormatContext* fmt;
    AVCodecContext* dec;
    AVStream* st;
    int stream_index;
    int threads;
    AVPacket* pkt;
    AVFrame* cur;   /* the last decoded frame (valid when have_cur) */
    AVFrame* tmp;
    struct SwsContext* sws;
    int sws_key[7];      /* what sws was set up for: source w, h, format, output w, h, colorspace, range */
    uint8_t* rgb;        /* sws_scale's output, padded (see convert) */
    size_t rgb_size;

    AVRational fps;
    AVRational time_base;
    int64_t start_pts;

    int have_cur;
    int64_t cur_index;   /* frame index of cur; -1 before the first frame after a seek/open */
    int input_eof;       /* the demuxer is exhausted and the decoder was sent the flush packet */
    int positioned;      /* decoding forward from here is valid (false after the decoder was drained) */
    int64_t last_index;  /* index of the real last frame once the end was reached, else -1 */
    int64_t last_key;    /* index of the last keyframe seen, -1 when unknown */
    int64_t gop;         /* largest keyframe distance seen */
    int64_t target;      /* the frame being decoded towards; earlier frames nothing refers to are skipped */
    int skipped;         /* frames may have been skipped since the last seek */

    vav_info info;
};

static _Thread_local char t_error[512];
static _Thread_local char t_detail[256];
static int g_print_level = AV_LOG_QUIET;
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;

/* libav explains failures only through its log: keep the calling thread's last error line to append
   to our message, and print nothing unless VIDEOSSL_AV_LOG asks for it (a libav level, e.g. 24). */
static void log_callback(void* avcl, int level, const char* fmt, va_list vl)
{
    if (level <= AV_LOG_ERROR)
    {
        va_list copy;
        va_copy(copy, vl);
        int print_prefix = 0;
        av_log_format_line2(avcl, level, fmt, copy, t_detail, sizeof t_detail, &print_prefix);
        va_end(copy);
        size_t n = strlen(t_detail);
        while (n > 0 && (t_detail[n - 1] == '\n' || t_detail[n - 1] == ' '))
        {
            t_detail[--n] = '\0';
        }
    }
    if (level <= g_print_level)
    {
        av_log_default_callback(avcl, level, fmt, vl);
    }
}

static void init_once(void)
{
    const char* level = getenv("VIDEOSSL_AV_LOG");
    if (level != NULL && level[0] != '\0')
    {
        g_print_level = atoi(level);
        av_log_set_level(g_print_level);
    }
    av_log_set_callback(log_callback);
}

static void begin_call(void)
{
    pthread_once(&g_init_once, init_once);
    t_error[0] = '\0';
    t_detail[0] = '\0';
}

__attribute__((format(printf, 2, 3)))
static int32_t fail(int32_t status, const char* format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf(t_error, sizeof t_error, format, args);
    va_end(args);
    if (t_detail[0] != '\0' && n >= 0 && (size_t)n < sizeof t_error)
    {
        snprintf(t_error + n, sizeof t_error - (size_t)n, " (libav: %s)", t_detail);
    }
    return status;
}

static const char* av_err(int err)
{
    static _Thread_local char text[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, text, sizeof text);
    return text;
}

VAV_API const char* vav_last_error(void)
{
    return t_error;
}

static int64_t pts_to_index(const vav_reader* r, int64_t pts)
{
    double seconds = (double)(pts - r->start_pts) * av_q2d(r->time_base);
    return llround(seconds * av_q2d(r->fps));
}

static int64_t index_to_pts(const vav_reader* r, int64_t index)
{
    return r->start_pts + av_rescale_q(index, av_inv_q(r->fps), r->time_base);
}

static int valid_rational(AVRational q)
{
    return q.num > 0 && q.den > 0;
}

/* Counts the packets of one stream with a separate demuxer, so the reader's own position is untouched. */
static int64_t count_packets(const char* path, int stream_index)
{
    AVFormatContext* fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0)
    {
        return -1;
    }
    int64_t count = 0;
    AVPacket* pkt = av_packet_alloc();
    if (pkt != NULL && avformat_find_stream_info(fmt, NULL) >= 0)
    {
        while (av_read_frame(fmt, pkt) >= 0)
        {
            count += pkt->stream_index == stream_index;
            av_packet_unref(pkt);
        }
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    return count;
}

/* Container frame counts are trusted only when they agree with duration x fps; webm has none and some
   avi/mkv writers store stale ones. A packet scan is the last resort because it reads the whole file. */
static void fill_frame_count(vav_reader* r, const char* path)
{
    int64_t derived = r->info.duration_seconds > 0 ? llround(r->info.duration_seconds * r->info.fps) : 0;
    int64_t stored = r->st->nb_frames;
    if (stored > 0 && (derived == 0 || llabs(stored - derived) <= (derived / 50 > 2 ? derived / 50 : 2)))
    {
        r->info.frame_count = stored;
        r->info.frame_count_exact = 1;
    }
    else if (derived > 0)
    {
        r->info.frame_count = derived;
        r->info.frame_count_exact = 0;
    }
    else
    {
        int64_t counted = count_packets(path, r->stream_index);
        r->info.frame_count = counted > 0 ? counted : 0;
        r->info.frame_count_exact = counted > 0;
    }
}

/* Cover art in audio files is a "video" stream of one attached picture: not a video. */
static int find_video_stream(AVFormatContext* fmt)
{
    int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC))
    {
        return best;
    }
    for (unsigned i = 0; i < fmt->nb_streams; i++)
    {
        const AVStream* st = fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
        {
            return (int)i;
        }
    }
    return -1;
}

VAV_API int32_t vav_open(const char* path, int32_t threads, vav_reader** out_reader)
{
    begin_call();
    if (out_reader == NULL || path == NULL)
    {
        return fail(VAV_E_ARGUMENT, "path and out_reader must not be null");
    }
    *out_reader = NULL;

    struct stat sb;
    if (stat(path, &sb) != 0)
    {
        return errno == ENOENT || errno == ENOTDIR
            ? fail(VAV_E_NOT_FOUND, "file not found")
            : fail(VAV_E_INVALID_DATA, "cannot access file: %s", strerror(errno));
    }
    if (S_ISDIR(sb.st_mode))
    {
        return fail(VAV_E_INVALID_DATA, "is a directory, not a video file");
    }
    if (sb.st_size == 0)
    {
        return fail(VAV_E_INVALID_DATA, "file is empty (0 bytes)");
    }

    vav_reader* r = calloc(1, sizeof *r);
    if (r != NULL && (r->path = strdup(path)) == NULL)
    {
        free(r);
        r = NULL;
    }
    if (r == NULL)
    {
        return fail(VAV_E_NO_MEMORY, "out of memory");
    }
    int32_t status = VAV_OK;
    int ret = avformat_open_input(&r->fmt, path, NULL, NULL);
    if (ret < 0)
    {
        status = ret == AVERROR(ENOENT)
            ? fail(VAV_E_NOT_FOUND, "file not found")
            : fail(VAV_E_INVALID_DATA, "cannot read as a media file: %s", av_err(ret));
        goto error;
    }
    ret = avformat_find_stream_info(r->fmt, NULL);
    if (ret < 0)
    {
        status = fail(VAV_E_INVALID_DATA, "cannot read stream information: %s", av_err(ret));
        goto error;
    }
    r->stream_index = find_video_stream(r->fmt);
    if (r->stream_index < 0)
    {
        status = fail(VAV_E_NO_VIDEO_STREAM, "no video stream (format '%s', %u stream(s))",
                      r->fmt->iformat->name, r->fmt->nb_streams);
        goto error;
    }
    r->st = r->fmt->streams[r->stream_index];
    const AVCodecParameters* par = r->st->codecpar;
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    if (codec == NULL)
    {
        char tag[AV_FOURCC_MAX_STRING_SIZE];
        av_fourcc_make_string(tag, par->codec_tag);
        status = fail(VAV_E_UNSUPPORTED_CODEC, "no decoder for video codec '%s' (tag %s)",
                      avcodec_get_name(par->codec_id), tag);
        goto error;
    }
    r->dec = avcodec_alloc_context3(codec);
    r->pkt = av_packet_alloc();
    r->cur = av_frame_alloc();
    r->tmp = av_frame_alloc();
    if (r->dec == NULL || r->pkt == NULL || r->cur == NULL || r->tmp == NULL)
    {
        status = fail(VAV_E_NO_MEMORY, "out of memory");
        goto error;
    }
    ret = avcodec_parameters_to_context(r->dec, par);
    if (ret >= 0)
    {
        r->threads = threads < 0 ? 0 : threads;
        r->dec->thread_count = r->threads;
        r->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
        r->dec->pkt_timebase = r->st->time_base;
        ret = avcodec_open2(r->dec, codec, NULL);
    }
    if (ret < 0)
    {
        status = fail(VAV_E_UNSUPPORTED_CODEC, "cannot open the %s decoder: %s", codec->name, av_err(ret));
        goto error;
    }
    if (par->width <= 0 || par->height <= 0)
    {
        status = fail(VAV_E_INVALID_DATA, "video stream has no frame size");
        goto error;
    }

    r->time_base = r->st->time_base;
    r->fps = valid_rational(r->st->avg_frame_rate) ? r->st->avg_frame_rate
           : valid_rational(r->st->r_frame_rate) ? r->st->r_frame_rate
           : av_guess_frame_rate(r->fmt, r->st, NULL);
    if (!valid_rational(r->fps) || !valid_rational(r->time_base))
    {
        status = fail(VAV_E_INVALID_DATA, "video stream has no frame rate");
        goto error;
    }
    r->start_pts = r->st->start_time != AV_NOPTS_VALUE ? r->st->start_time : 0;

    r->info.width = par->width;
    r->info.height = par->height;
    r->info.fps = av_q2d(r->fps);
    if (r->st->duration != AV_NOPTS_VALUE && r->st->duration > 0)
    {
        r->info.duration_seconds = (double)r->st->duration * av_q2d(r->time_base);
    }
    else if (r->fmt->duration != AV_NOPTS_VALUE && r->fmt->duration > 0)
    {
        r->info.duration_seconds = (double)r->fmt->duration / AV_TIME_BASE;
    }
    snprintf(r->info.codec, sizeof r->info.codec, "%s", avcodec_get_name(par->codec_id));
    fill_frame_count(r, path);

    /* find_stream_info buffered the first packets, so decoding starts at the beginning without a seek. */
    r->positioned = 1;
    r->cur_index = -1;
    r->last_index = -1;
    r->last_key = -1;
    *out_reader = r;
    return VAV_OK;

error:
    vav_close(r);
    return status;
}

VAV_API void vav_close(vav_reader* r)
{
    if (r == NULL)
    {
        return;
    }
    sws_freeContext(r->sws);
    av_freep(&r->rgb);
    av_frame_free(&r->cur);
    av_frame_free(&r->tmp);
    av_packet_free(&r->pkt);
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    free(r->path);
    free(r);
}

VAV_API int32_t vav_get_info(const vav_reader* r, vav_info* out_info)
{
    begin_call();
    if (r == NULL || out_info == NULL)
    {
        return fail(VAV_E_ARGUMENT, "reader and out_info must not be null");
    }
    *out_info = r->info;
    return VAV_OK;
}

static int even(double x)
{
    long v = 2 * lround(x / 2);
    return v < 2 ? 2 : (int)v;
}

static int32_t output_size(const vav_reader* r, int32_t mode, int32_t a, int32_t b, int32_t* w, int32_t* h)
{
    switch (mode)
    {
    case VAV_RESIZE_NONE:
        *w = r->info.width;
        *h = r->info.height;
        return VAV_OK;
    case VAV_RESIZE_EXACT:
        if (a <= 0 || b <= 0 || a > 16384 || b > 16384)
        {
            return fail(VAV_E_ARGUMENT, "resize to %dx%d: sides must be in [1, 16384]", a, b);
        }
        *w = a;
        *h = b;
        return VAV_OK;
    case VAV_RESIZE_SHORT_SIDE:
        if (a <= 0 || a > 16384)
        {
            return fail(VAV_E_ARGUMENT, "resize to short side %d: must be in [1, 16384]", a);
        }
        if (r->info.width <= r->info.height)
        {
            *w = even(a);
            *h = even((double)a * r->info.height / r->info.width);
        }
        else
        {
            *h = even(a);
            *w = even((double)a * r->info.width / r->info.height);
        }
        return VAV_OK;
    default:
        return fail(VAV_E_ARGUMENT, "unknown resize mode %d", mode);
    }
}

VAV_API int32_t vav_output_size(const vav_reader* r, int32_t mode, int32_t a, int32_t b,
                                int32_t* out_width, int32_t* out_height)
{
    begin_call();
    if (r == NULL || out_width == NULL || out_height == NULL)
    {
        return fail(VAV_E_ARGUMENT, "reader and outputs must not be null");
    }
    return output_size(r, mode, a, b, out_width, out_height);
}

static int is_key(const AVFrame* f)
{
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 7, 100)
    return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return f->key_frame;
#endif
}

/* Decodes the next frame into r->cur. Returns 0, AVERROR_EOF at the end of the stream, or an error. */
static int decode_next(vav_reader* r)
{
    int errors = 0;
    for (;;)
    {
        int ret = avcodec_receive_frame(r->dec, r->tmp);
        if (ret == 0)
        {
            int64_t pts = r->tmp->best_effort_timestamp != AV_NOPTS_VALUE ? r->tmp->best_effort_timestamp : r->tmp->pts;
            int64_t index = pts != AV_NOPTS_VALUE ? pts_to_index(r, pts) : r->cur_index + 1;
            /* Rounding or duplicate timestamps must not make two frames share an index. */
            if (r->have_cur && index <= r->cur_index)
            {
                index = r->cur_index + 1;
            }
            av_frame_unref(r->cur);
            av_frame_move_ref(r->cur, r->tmp);
            r->have_cur = 1;
            r->cur_index = index;
            if (is_key(r->cur))
            {
                if (r->last_key >= 0 && index - r->last_key > r->gop)
                {
                    r->gop = index - r->last_key;
                }
                r->last_key = index;
            }
            return 0;
        }
        if (ret == AVERROR_EOF)
        {
            r->positioned = 0; /* a drained decoder accepts packets only after a flush (a seek) */
            return AVERROR_EOF;
        }
        if (ret != AVERROR(EAGAIN))
        {
            /* A corrupt frame: like ffmpeg, skip it and go on, within limits. */
            if (++errors > MAX_CONSECUTIVE_ERRORS)
            {
                return ret;
            }
            continue;
        }
        if (r->input_eof)
        {
            r->positioned = 0;
            return AVERROR_EOF;
        }
        ret = av_read_frame(r->fmt, r->pkt);
        if (ret < 0)
        {
            /* End of file or a truncated/unreadable tail: either way, drain what was decoded. */
            r->input_eof = 1;
            avcodec_send_packet(r->dec, NULL);
            continue;
        }
        if (r->pkt->stream_index != r->stream_index)
        {
            av_packet_unref(r->pkt);
            continue;
        }
        /* Frames before the target that no other frame refers to (most B-frames) need not be decoded.
           They are never wanted later without a seek: a later read wants the target or beyond, and an
           index below the current frame always seeks. */
        int64_t index = r->pkt->pts != AV_NOPTS_VALUE ? pts_to_index(r, r->pkt->pts) : INT64_MAX;
        int skip = index < r->target && !(r->pkt->flags & AV_PKT_FLAG_KEY);
        r->dec->skip_frame = skip ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
        r->skipped |= skip;
        ret = avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN) && ++errors > MAX_CONSECUTIVE_ERRORS)
        {
            return ret;
        }
    }
}

/* Opens the file again at its start: the way back when the demuxer cannot seek, as in a webm whose cues
   were cut off. */
static int reopen(vav_reader* r)
{
    AVFormatContext* fmt = NULL;
    int ret = avformat_open_input(&fmt, r->path, NULL, NULL);
    if (ret >= 0)
    {
        ret = avformat_find_stream_info(fmt, NULL);
    }
    if (ret >= 0 && ((unsigned)r->stream_index >= fmt->nb_streams
                     || fmt->streams[r->stream_index]->codecpar->codec_id != r->st->codecpar->codec_id))
    {
        ret = AVERROR_INVALIDDATA; /* the file changed under us */
    }
    if (ret < 0)
    {
        avformat_close_input(&fmt);
        return ret;
    }
    avformat_close_input(&r->fmt);
    r->fmt = fmt;
    r->st = fmt->streams[r->stream_index];
    return 0;
}

/* Seeks so that decoding resumes at the keyframe at or before frame `index` (or the stream start);
   a negative index reopens the file. */
static int seek_to(vav_reader* r, int64_t index)
{
    int ret = -1;
    if (index >= 0)
    {
        int64_t ts = index > 0 ? index_to_pts(r, index) : r->start_pts;
        ret = av_seek_frame(r->fmt, r->stream_index, ts, AVSEEK_FLAG_BACKWARD);
        if (ret < 0)
        {
            ret = avformat_seek_file(r->fmt, r->stream_index, INT64_MIN, ts, ts, 0);
        }
        if (ret < 0 && index > 0)
        {
            ret = avformat_seek_file(r->fmt, r->stream_index, INT64_MIN, r->start_pts, r->start_pts, 0);
        }
    }
    if (ret < 0)
    {
        ret = reopen(r);
    }
    avcodec_flush_buffers(r->dec);
    av_frame_unref(r->cur);
    r->have_cur = 0;
    r->cur_index = -1;
    r->input_eof = 0;
    r->skipped = 0;
    r->last_key = -1;
    r->positioned = ret >= 0;
    return ret;
}

/* The keyframe at or before frame `index` by the container's index, -1 when the index cannot tell:
   empty, or ending before `index` (matroska fills it from the cues only at the first seek). */
static int64_t keyframe_before(const vav_reader* r, int64_t index)
{
    int entries = avformat_index_get_entries_count(r->st);
    int64_t pts = index_to_pts(r, index);
    if (entries <= 0 || avformat_index_get_entry(r->st, entries - 1)->timestamp < pts)
    {
        return -1;
    }
    const AVIndexEntry* e = avformat_index_get_entry_from_timestamp(r->st, pts, AVSEEK_FLAG_BACKWARD);
    return e != NULL ? pts_to_index(r, e->timestamp) : -1;
}

static int should_seek(const vav_reader* r, int64_t want)
{
    if (!r->positioned || (r->have_cur && want < r->cur_index))
    {
        return 1;
    }
    int64_t kf = keyframe_before(r, want);
    if (kf >= 0)
    {
        /* Seeking throws away the frames in flight in the decoder (about one per thread): worth it only
           when a keyframe lies further ahead than that. */
        return kf > r->cur_index + (r->threads > 1 ? r->threads : 1) + 1;
    }
    int64_t gop = r->gop > DEFAULT_GOP ? r->gop : DEFAULT_GOP;
    return want - r->cur_index > gop;
}

/* Leaves in r->cur the first frame with index >= want, or the last frame of the video. */
static int32_t frame_at(vav_reader* r, int64_t want)
{
    if (r->last_index >= 0 && want > r->last_index)
    {
        want = r->last_index;
    }
    if (r->have_cur && r->cur_index == want)
    {
        return VAV_OK;
    }
    r->target = want;
    int64_t seek_target = want;
    int64_t backoff = 0;
    int just_seeked = 0;
    if (should_seek(r, want))
    {
        if (seek_to(r, seek_target) < 0)
        {
            return fail(VAV_E_DECODE, "cannot seek to frame %lld", (long long)want);
        }
        just_seeked = 1;
    }
    for (;;)
    {
        int ret = decode_next(r);
        if (ret == AVERROR_EOF)
        {
            if (!r->have_cur)
            {
                if (seek_target >= 0)
                {
                    /* Nothing decodable after the seek point (a truncated tail, or a demuxer without an
                       index that seeked to the end): restart earlier, finally from a reopened file. */
                    seek_target = seek_target > 0 ? seek_target / 2 - 1 : -1;
                    if (seek_to(r, seek_target) < 0)
                    {
                        return fail(VAV_E_DECODE, "cannot seek to frame %lld", (long long)seek_target);
                    }
                    just_seeked = 1;
                    continue;
                }
                return fail(VAV_E_DECODE, "no frame could be decoded");
            }
            if (r->skipped)
            {
                /* The real last frame may be one that was skipped: decode the tail again in full. */
                if (seek_to(r, r->cur_index) < 0)
                {
                    return fail(VAV_E_DECODE, "cannot seek to frame %lld", (long long)r->cur_index);
                }
                r->target = INT64_MIN;
                while ((ret = decode_next(r)) == 0)
                {
                }
                if (ret != AVERROR_EOF || !r->have_cur)
                {
                    return fail(VAV_E_DECODE, "decoding the last frames failed: %s", av_err(ret));
                }
            }
            r->last_index = r->cur_index; /* clamp: the video is shorter than asked */
            return VAV_OK;
        }
        if (ret < 0)
        {
            return fail(VAV_E_DECODE, "decoding failed near frame %lld: %s", (long long)want, av_err(ret));
        }
        if (just_seeked)
        {
            just_seeked = 0;
            /* The seek landed after the wanted frame: mp4 indexes keyframes by decode time, which runs
               ahead of presentation time by the B-frame delay. Go back by the overshoot, then doubling,
               until the start of the stream. */
            if (r->cur_index > want && seek_target > 0)
            {
                backoff = backoff == 0 ? r->cur_index - want + 1 : backoff * 2;
                seek_target = want - backoff > 0 ? want - backoff : 0;
                if (seek_to(r, seek_target) < 0)
                {
                    return fail(VAV_E_DECODE, "cannot seek to frame %lld", (long long)seek_target);
                }
                just_seeked = 1;
                continue;
            }
        }
        if (r->cur_index >= want)
        {
            return VAV_OK;
        }
    }
}

/* Room left after every output row. sws_scale's unscaled yuv420p/422p -> RGB24 path (x86 SIMD, libswscale/x86/yuv2rgb.c)
   converts rows in blocks of pixels: in rows packed at exactly w * 3 bytes it writes up to 8 pixels past each row
   for some widths (40, 56, 426), the last one past the end of the buffer, and for others, where the
   rounded-up row does not fit the stride, it shortens the row and leaves the last w % 8 pixels unwritten (340, 100). */
#define SWS_ROW_SLACK 64

static int32_t convert(vav_reader* r, int w, int h, uint8_t* out)
{
    const AVFrame* f = r->cur;
    int colorspace = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
    int range = f->color_range == AVCOL_RANGE_JPEG;
    int key[7] = { f->width, f->height, f->format, w, h, colorspace, range };
    if (r->sws == NULL || memcmp(key, r->sws_key, sizeof key) != 0)
    {
        /* Not sws_getCachedContext: when it cannot make the new context it has already freed the old one (which
           r->sws would still point to), and a new context may reuse the old address, so a pointer comparison
           cannot tell that the colour details below must be set again. */
        sws_freeContext(r->sws);
        memset(r->sws_key, 0, sizeof r->sws_key);
        r->sws = sws_getContext(f->width, f->height, (enum AVPixelFormat)f->format, w, h, AV_PIX_FMT_RGB24,
                                SWS_BILINEAR, NULL, NULL, NULL);
        if (r->sws == NULL)
        {
            return fail(VAV_E_DECODE, "cannot convert %dx%d %s frames to %dx%d RGB24", f->width, f->height,
                        av_get_pix_fmt_name((enum AVPixelFormat)f->format), w, h);
        }
        /* Honour the stream's matrix and range; the output is full-range RGB. */
        sws_setColorspaceDetails(r->sws, sws_getCoefficients(colorspace), range,
                                 sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
        memcpy(r->sws_key, key, sizeof key);
    }
    /* Convert into a padded buffer of our own, then copy the rows out: the caller's frames are packed back to back
       (a frame written after its neighbour in the buffer would lose that neighbour's first pixels) and its buffer
       ends right after the last row (managed memory: the overrun corrupted the .NET heap). */
    int row = w * 3;
    int stride = FFALIGN(row + SWS_ROW_SLACK, 64);
    size_t need = (size_t)stride * (size_t)(h + 1);
    if (r->rgb_size < need)
    {
        av_freep(&r->rgb);
        r->rgb_size = 0;
        if ((r->rgb = av_malloc(need)) == NULL)
        {
            return fail(VAV_E_NO_MEMORY, "out of memory for a %dx%d frame", w, h);
        }
        r->rgb_size = need;
    }
    uint8_t* dst[4] = { r->rgb, NULL, NULL, NULL };
    int dst_stride[4] = { stride, 0, 0, 0 };
    sws_scale(r->sws, (const uint8_t* const*)f->data, f->linesize, 0, f->height, dst, dst_stride);
    for (int y = 0; y < h; y++)
    {
        memcpy(out + (size_t)y * (size_t)row, r->rgb + (size_t)y * (size_t)stride, (size_t)row);
    }
    return VAV_OK;
}

VAV_API int32_t vav_read(vav_reader* r, const int32_t* indices, const int32_t* slots, int32_t count,
                         int32_t mode, int32_t a, int32_t b, uint8_t* out, int64_t out_bytes)
{
    begin_call();
    if (r == NULL || indices == NULL || out == NULL || count <= 0)
    {
        return fail(VAV_E_ARGUMENT, "reader, indices and out must not be null, and count positive");
    }
    int32_t w = 0, h = 0;
    int32_t status = output_size(r, mode, a, b, &w, &h);
    if (status != VAV_OK)
    {
        return status;
    }
    int64_t frame_bytes = (int64_t)w * h * 3;
    for (int32_t i = 0; i < count; i++)
    {
        if (indices[i] < 0 || (i > 0 && indices[i] < indices[i - 1]))
        {
            return fail(VAV_E_ARGUMENT, "indices must be non-negative and sorted (index %d is %d)", i, indices[i]);
        }
        int64_t slot = slots != NULL ? slots[i] : i;
        if (slot < 0 || (slot + 1) * frame_bytes > out_bytes)
        {
            return fail(VAV_E_ARGUMENT, "output slot %lld does not fit a %lld-byte buffer of %dx%d frames",
                        (long long)slot, (long long)out_bytes, w, h);
        }
    }
    for (int32_t i = 0; i < count; i++)
    {
        uint8_t* dst = out + (slots != NULL ? slots[i] : i) * frame_bytes;
        if (i > 0 && indices[i] == indices[i - 1])
        {
            memcpy(dst, out + (slots != NULL ? slots[i - 1] : i - 1) * frame_bytes, (size_t)frame_bytes);
            continue;
        }
        status = frame_at(r, indices[i]);
        if (status == VAV_OK)
        {
            status = convert(r, w, h, dst);
        }
        if (status != VAV_OK)
        {
            return status;
        }
    }
    return VAV_OK;
}
