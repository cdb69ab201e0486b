/*
 * videossl_av: random-access video frame decoding to RGB24 for VideoSSL (C ABI).
 *
 * Every function returns a vav_status; on failure vav_last_error() gives a message for the calling
 * thread (valid until that thread's next vav_* call). A reader is not thread-safe: use one per thread.
 */
#ifndef VIDEOSSL_AV_H
#define VIDEOSSL_AV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VAV_API __attribute__((visibility("default")))

typedef enum vav_status
{
    VAV_OK = 0,
    VAV_E_ARGUMENT = 1,          /* null pointer, unsorted indices, buffer too small, bad resize */
    VAV_E_NOT_FOUND = 2,         /* the file does not exist */
    VAV_E_INVALID_DATA = 3,      /* unreadable, empty, truncated or not a media file */
    VAV_E_NO_VIDEO_STREAM = 4,   /* a media file without a video stream (audio-only, ...) */
    VAV_E_UNSUPPORTED_CODEC = 5, /* libavcodec has no decoder for the video stream, or cannot open it */
    VAV_E_DECODE = 6,            /* the stream opened but no frame could be decoded / seeking failed */
    VAV_E_NO_MEMORY = 7,
} vav_status;

typedef enum vav_resize_mode
{
    VAV_RESIZE_NONE = 0,       /* native size */
    VAV_RESIZE_EXACT = 1,      /* exactly a x b (width x height) */
    VAV_RESIZE_SHORT_SIDE = 2, /* short side a, aspect kept, both sides rounded to even */
} vav_resize_mode;

typedef struct vav_info
{
    int32_t width;
    int32_t height;
    int64_t frame_count;
    double fps;
    double duration_seconds;
    int32_t frame_count_exact; /* 1: from a consistent container index or a packet count; 0: duration x fps */
    int32_t reserved;
    char codec[32];            /* libavcodec's short name: "h264", "vp9", "mpeg4" */
} vav_info;

typedef struct vav_reader vav_reader;

/* threads: decoder threads (frame + slice threading); 0 lets libavcodec choose, 1 decodes on the caller's thread. */
VAV_API int32_t vav_open(const char* path_utf8, int32_t threads, vav_reader** out_reader);

VAV_API int32_t vav_get_info(const vav_reader* reader, vav_info* out_info);

/* The size vav_read writes for a resize request, to size the output buffer. */
VAV_API int32_t vav_output_size(const vav_reader* reader, int32_t mode, int32_t a, int32_t b,
                                int32_t* out_width, int32_t* out_height);

/*
 * Decodes the frames at `indices` (sorted ascending, duplicates allowed, >= 0) as RGB24 into `out`:
 * frame i goes to out + slots[i] * frame_bytes (slots may be NULL for slot i), frame_bytes = w*h*3 of
 * vav_output_size. Indices past the last frame give the last frame.
 */
VAV_API int32_t vav_read(vav_reader* reader, const int32_t* indices, const int32_t* slots, int32_t count,
                         int32_t mode, int32_t a, int32_t b, uint8_t* out, int64_t out_bytes);

VAV_API void vav_close(vav_reader* reader);

/* The calling thread's last error message ("" when none). */
VAV_API const char* vav_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
