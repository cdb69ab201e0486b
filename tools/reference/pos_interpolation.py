"""V-JEPA's position-table interpolation for clips of another size, for the model tests.

interpolate_pos_encoding below is the video branch of facebookresearch/jepa src/models/vision_transformer.py
(VisionTransformer.interpolate_pos_encoding), with the model's attributes passed in: the table is built for
N_t x N_h x N_w tokens and the clip has T x H x W patches.

  pos_interpolation.py OUT_DIR    writes OUT_DIR/pos_interp.pth: for each case k, table{k} [1, N, D] (random),
                                  grid{k} = [N_t, N_h, N_w, T, H, W] and expected{k} [1, T*H*W, D]
"""
import os
import sys

import torch
import torch.nn as nn


def interpolate_pos_encoding(pos_embed, N_t, N_h, N_w, T, H, W):
    _, N, dim = pos_embed.shape
    assert N_h * N_w * N_t == N, 'Positional embedding initialized incorrectly'
    # Compute scale factor for spatio-temporal interpolation
    scale_factor = (T / N_t, H / N_h, W / N_w)
    pos_embed = nn.functional.interpolate(
        pos_embed.reshape(1, N_t, N_h, N_w, dim).permute(0, 4, 1, 2, 3),
        scale_factor=scale_factor,
        mode='trilinear')
    pos_embed = pos_embed.permute(0, 2, 3, 4, 1).view(1, -1, dim)
    return pos_embed


# (N_t, N_h, N_w) -> (T, H, W), D: up, down, mixed; ViT-L/16 at 16 x 224 -> 16 x 256 and -> 8 frames.
CASES = [
    ((2, 4, 4), (4, 6, 6), 12),
    ((4, 4, 4), (2, 3, 5), 8),
    ((8, 14, 14), (8, 16, 16), 6),
    ((8, 14, 14), (4, 14, 14), 6),
]


def main(out_dir):
    torch.manual_seed(0)
    tensors = {}
    for k, ((nt, nh, nw), (t, h, w), d) in enumerate(CASES):
        table = torch.randn(1, nt * nh * nw, d)
        tensors[f'table{k}'] = table
        tensors[f'grid{k}'] = torch.tensor([nt, nh, nw, t, h, w], dtype=torch.int64)
        tensors[f'expected{k}'] = interpolate_pos_encoding(table, nt, nh, nw, t, h, w).contiguous()
    os.makedirs(out_dir, exist_ok=True)
    torch.save(tensors, os.path.join(out_dir, 'pos_interp.pth'))


if __name__ == '__main__':
    main(sys.argv[1])
