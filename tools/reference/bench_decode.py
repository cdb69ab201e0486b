#!/usr/bin/python3
"""PyAV reference for VideoReader's speed: full sequential decode to RGB24, and sparse clips.

    /usr/bin/python3 tools/reference/bench_decode.py VIDEO [--clips 50] [--frames 16] [--stride 4] [--threads 1]

(a) decodes every frame and converts it to an rgb24 ndarray; (b) opens the file, seeks to the keyframe
before a pseudo-random start (start_k = 37k mod (n - span + 1), so other readers can use the same ones), decodes forward and converts only the `frames` wanted frames (start + i*stride),
matching frames by presentation timestamp, as VideoReader does. Both report the best of --repeats runs.
"""
import argparse
import time

import av


def open_video(path, threads):
    container = av.open(path)
    stream = container.streams.video[0]
    stream.thread_count = threads
    stream.thread_type = "AUTO" if threads != 1 else "SLICE"
    return container, stream


def full_decode(path, threads):
    container, stream = open_video(path, threads)
    start, cpu = time.perf_counter(), time.process_time()
    n = 0
    for frame in container.decode(stream):
        frame.to_ndarray(format="rgb24")
        n += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    container.close()
    return n, elapsed, cpu


def sparse_clip(path, threads, start_index, frames, stride):
    container, stream = open_video(path, threads)
    fps = stream.average_rate
    tb = stream.time_base
    t0 = stream.start_time or 0
    wanted = [start_index + i * stride for i in range(frames)]
    container.seek(t0 + int(round(start_index / fps / tb)), stream=stream, backward=True, any_frame=False)
    out, k = [], 0
    for frame in container.decode(stream):
        index = round(float((frame.pts - t0) * tb * fps))
        while k < len(wanted) and index >= wanted[k]:
            out.append(frame.to_ndarray(format="rgb24"))
            k += 1
        if k == len(wanted):
            break
    container.close()
    assert len(out) == frames, f"got {len(out)} of {frames} frames"
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    full_decode(args.video, args.threads)  # warm the page cache and the library
    runs = [full_decode(args.video, args.threads) for _ in range(args.repeats)]
    n = runs[0][0]
    elapsed, cpu = min(r[1] for r in runs), min(r[2] for r in runs)
    print(f"PyAV {av.__version__} threads={args.threads} (best of {args.repeats}; wall, then CPU time)")
    print(f"(a) full decode: {n} frames in {elapsed * 1000:.1f} ms = {n / elapsed:.0f} frames/s"
          f" | cpu {cpu * 1000:.1f} ms = {n / cpu:.0f} frames/s")

    span = (args.frames - 1) * args.stride + 1
    starts = [37 * k % (n - span + 1) for k in range(args.clips)]
    per_clip = cpu_clip = float("inf")
    for _ in range(args.repeats):
        begin, cpu = time.perf_counter(), time.process_time()
        for s in starts:
            sparse_clip(args.video, args.threads, s, args.frames, args.stride)
        per_clip = min(per_clip, (time.perf_counter() - begin) / args.clips)
        cpu_clip = min(cpu_clip, (time.process_time() - cpu) / args.clips)
    print(f"(b) sparse clip ({args.frames} frames, stride {args.stride}, {args.clips} starts, open included): "
          f"{per_clip * 1000:.2f} ms/clip | cpu {cpu_clip * 1000:.2f} ms/clip")


if __name__ == "__main__":
    main()
