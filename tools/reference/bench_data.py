#!/usr/bin/env python3
"""PyAV reference for `videossl bench data`: the same work a good Python video loader does per clip.

VideoMAE pretraining sampling (16 frames, stride 4, random start), decode with PyAV (seek to the keyframe
before the first index, decode forward, convert only the wanted frames), VideoMAE multi-scale crop
(scales 1, .875, .75, .66; 13 fixed offsets) resized to 224 with PIL bilinear (as VideoMAE's
GroupMultiScaleCrop), ImageNet normalisation to a float32 [3, T, H, W] array. `--workers` processes, like
a DataLoader's workers. Prints one JSON object.

    /usr/bin/python3 tools/reference/bench_data.py --list LIST --root ROOT --seconds 20 --workers 2
"""
import argparse
import json
import multiprocessing
import random
import time

import av
import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def pretrain_indices(n, frames, stride, rng):
    span = frames * stride
    start = rng.randint(0, n - span) if n > span else 0
    return [min(start + i * stride, n - 1) for i in range(frames)]


def multi_scale_crop(width, height, size, rng):
    # VideoMAE GroupMultiScaleCrop._sample_crop_size with max_distort 1 and fix_crop.
    base = min(width, height)
    sizes = [int(base * s) for s in (1, 0.875, 0.75, 0.66)]
    sizes = [size if abs(x - size) < 3 else x for x in sizes]
    pairs = [(w, h) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= 1]
    cw, ch = rng.choice(pairs)
    ws, hs = (width - cw) // 4, (height - ch) // 4
    offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs), (0, 2 * hs), (4 * ws, 2 * hs),
               (2 * ws, 4 * hs), (2 * ws, 0), (1 * ws, 1 * hs), (3 * ws, 1 * hs), (1 * ws, 3 * hs), (3 * ws, 3 * hs)]
    x, y = rng.choice(offsets)
    return x, y, cw, ch


def load_clip(path, frames, stride, size, rng):
    with av.open(path) as container:
        stream = container.streams.video[0]
        # One decoder thread per worker process, like VideoSSL's loader (DecoderThreads = 1): with as many workers
        # as cores, frame threading only adds contention (measured: AUTO was 10-20% slower here with 2 workers).
        n = stream.frames or int(float(stream.duration * stream.time_base) * float(stream.average_rate))
        wanted = pretrain_indices(n, frames, stride, rng)
        fps = float(stream.average_rate)
        to_pts = lambda i: int(round(i / fps / stream.time_base)) + (stream.start_time or 0)
        container.seek(to_pts(wanted[0]), stream=stream, backward=True, any_frame=False)
        pending = sorted(set(wanted))
        decoded = {}
        for frame in container.decode(stream):
            index = int(round((frame.pts - (stream.start_time or 0)) * stream.time_base * fps))
            while pending and index >= pending[0]:
                decoded[pending.pop(0)] = frame.to_ndarray(format="rgb24")
            if not pending:
                break
        last = decoded[max(decoded)] if decoded else None
        images = [decoded.get(i, last) for i in wanted]
    h, w = images[0].shape[:2]
    x, y, cw, ch = multi_scale_crop(w, h, size, rng)
    out = np.empty((frames, size, size, 3), dtype=np.float32)
    for t, image in enumerate(images):
        crop = Image.fromarray(image[y:y + ch, x:x + cw]).resize((size, size), Image.BILINEAR)
        out[t] = (np.asarray(crop, dtype=np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(out.transpose(3, 0, 1, 2))


def worker(args):
    paths, frames, stride, size, seconds, seed = args
    rng = random.Random(seed)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        load_clip(rng.choice(paths), frames, stride, size, rng)
        done += 1
    return done, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--list", required=True, help="VideoMAE list file: 'path label' per line")
    p.add_argument("--root", default="")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seconds", type=float, default=20)
    a = p.parse_args()
    import os
    paths = [os.path.join(a.root, line.split()[0]) for line in open(a.list) if line.strip()]
    jobs = [(paths, a.frames, a.stride, a.size, a.seconds, k) for k in range(a.workers)]
    with multiprocessing.Pool(a.workers) as pool:
        results = pool.map(worker, jobs)
    clips = sum(r[0] for r in results)
    elapsed = max(r[1] for r in results)
    print(json.dumps({"pyav": av.__version__, "workers": a.workers, "clips": clips, "clips_per_s": clips / elapsed}))


if __name__ == "__main__":
    main()
