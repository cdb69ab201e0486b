"""Transcription of SVT's multi-view data path, for parity fixtures of MultiViewPipelines.

Run by /usr/bin/python3 (torch 1.13). Sources, transcribed as they are (quirks included):
  kahnchana/svt  datasets/decoder.py    temporal_sampling, decode(temporal_aug=True, rand_fr=True) view windows
                 datasets/transform.py  random_resized_crop (10 tries, no break), resize(bicubic), horizontal_flip,
                                        color_jitter (brightness/contrast/saturation blends), grayscale (BGR weights),
                                        color_normalization, VideoDataAugmentationDINO.normalize
The random draws are inputs (the case file gives them), so the deterministic code around them is compared.

  svt_views_reference.py CASES.json OUT.json
CASES.json: {"temporal": [{"length", "start", "end", "n"}],
             "crops": [{"height", "width", "scale": [min, max], "draws": [[u_area, u_aspect, top, left] x 10]}],
             "views": [{"frames": [T, H, W, 3] uint8 nested lists, "box": [left, top, w, h], "size", "flip",
                        "jitter": [[kind, alpha]...] or null, "gray"}]}
OUT.json: {"temporal": [[indices]], "crops": [[left, top, w, h]], "views": [[3*T*S*S floats, C T H W]]}
"""
import json
import sys

import numpy as np
import torch


# ---------------------------------------------------------------- decoder.py
def temporal_sampling(frames_len, start_idx, end_idx, num_samples):
    index = torch.linspace(start_idx, end_idx, num_samples)
    index = torch.clamp(index, 0, frames_len - 1).long()
    return index.tolist()


# ---------------------------------------------------------------- transform.py
def random_resized_crop_params(height, width, scale, draws, ratio=(3. / 4., 4. / 3.)):
    area = height * width
    non_central = False
    for k in range(10):
        u_area, u_aspect, top, left = draws[k]
        # torch.empty(1).uniform_(a, b) given its uniform draw u
        target_area = area * (scale[0] + u_area * (scale[1] - scale[0]))
        log_ratio = np.log(np.array(ratio))
        aspect_ratio = float(np.exp(log_ratio[0] + u_aspect * (log_ratio[1] - log_ratio[0])))

        w = int(round(np.sqrt(target_area * aspect_ratio)))
        h = int(round(np.sqrt(target_area / aspect_ratio)))

        if 0 < w <= width and 0 < h <= height:
            i = int(top)   # torch.randint(0, height - h + 1)
            j = int(left)  # torch.randint(0, width - w + 1)
            assert 0 <= i <= height - h and 0 <= j <= width - w
            non_central = True

    if not non_central:
        in_ratio = float(width) / float(height)
        if in_ratio < min(ratio):
            w = width
            h = int(round(w / min(ratio)))
        elif in_ratio > max(ratio):
            h = height
            w = int(round(h * max(ratio)))
        else:
            w = width
            h = height
        i = (height - h) // 2
        j = (width - w) // 2
    # The crop as the official slice takes it: i, j of the last valid try, h, w of the last try (clipped by slicing).
    cropped = torch.empty(height, width)[i: i + h, j: j + w]
    return [j, i, cropped.shape[1], cropped.shape[0]]


def resize(images, size, mode="bilinear"):
    return torch.nn.functional.interpolate(images, size=(size, size), mode=mode, align_corners=False)


def blend(images1, images2, alpha):
    return images1 * alpha + images2 * (1 - alpha)


def grayscale(images):
    # R -> 0.299, G -> 0.587, B -> 0.114 on channels 2, 1, 0 (the code expects BGR; SVT's frames are RGB).
    img_gray = images.clone()
    gray_channel = 0.299 * images[:, 2] + 0.587 * images[:, 1] + 0.114 * images[:, 0]
    img_gray[:, 0] = gray_channel
    img_gray[:, 1] = gray_channel
    img_gray[:, 2] = gray_channel
    return img_gray


def brightness_jitter(alpha, images):
    img_bright = torch.zeros(images.shape)
    return blend(images, img_bright, alpha)


def contrast_jitter(alpha, images):
    img_gray = grayscale(images)
    img_gray[:] = torch.mean(img_gray, dim=(1, 2, 3), keepdim=True)
    return blend(images, img_gray, alpha)


def saturation_jitter(alpha, images):
    img_gray = grayscale(images)
    return blend(images, img_gray, alpha)


def color_normalization(images, mean, stddev):
    out_images = torch.zeros_like(images)
    for idx in range(len(mean)):
        out_images[:, idx] = (images[:, idx] - mean[idx]) / stddev[idx]
    return out_images


def view(case):
    frames = torch.tensor(case["frames"], dtype=torch.uint8)               # T H W C
    frames = frames.permute(0, 3, 1, 2).float() / 255.0                     # T C H W (kinetics.py rearrange + __call__)
    left, top, w, h = case["box"]
    cropped = frames[:, :, top: top + h, left: left + w]
    out = resize(cropped, size=case["size"], mode="bicubic")
    if case["flip"]:
        out = out.flip((-1))
    if case["jitter"] is not None:
        for kind, alpha in case["jitter"]:
            if kind == "brightness":
                out = brightness_jitter(alpha, out)
            elif kind == "contrast":
                out = contrast_jitter(alpha, out)
            else:
                out = saturation_jitter(alpha, out)
    if case["gray"]:
        out = grayscale(out)
    out = color_normalization(out, mean=[0.485, 0.456, 0.406], stddev=[0.229, 0.224, 0.225])
    return out.permute(1, 0, 2, 3).contiguous().reshape(-1).tolist()          # C T H W (kinetics.py rearrange)


def main():
    cases = json.load(open(sys.argv[1]))
    out = {
        "temporal": [temporal_sampling(c["length"], c["start"], c["end"], c["n"]) for c in cases.get("temporal", [])],
        "crops": [random_resized_crop_params(c["height"], c["width"], c["scale"], c["draws"]) for c in cases.get("crops", [])],
        "views": [view(c) for c in cases.get("views", [])],
    }
    json.dump(out, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
