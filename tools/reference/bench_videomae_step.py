#!/usr/bin/env python3
"""PyTorch reference for `videossl bench pretrain --reference`: one VideoMAE pretraining step of the official model.

The model is transcribed from MCG-NJU/VideoMAE (modeling_pretrain.py PretrainVisionTransformer, with Block,
Attention, Mlp, PatchEmbed and get_sinusoid_encoding_table from modeling_finetune.py) in plain PyTorch, so
neither timm nor einops is needed. The step is what engine_for_pretraining.train_one_epoch does per batch
on the main process: normalised-pixel targets under no_grad, forward, MSELoss, optimizer.zero_grad()
(torch's default: zero in place), backward, AdamW step (optim_factory: torch.optim.AdamW, weight decay
0.05 except 1-D/bias/pos_embed/mask_token, betas 0.9/0.95 as the pretrain scripts). Tube masks come from
the data loader in the official code, so they are drawn outside the timed step here.

Run with Debian's interpreter (python3-torch shares libtorch 1.13 with the suite):
    /usr/bin/python3 tools/reference/bench_videomae_step.py --embed-dim 384 --depth 12 --heads 6 \
        --decoder-dim 192 --decoder-depth 4 --decoder-heads 3 --batch 4 --frames 16 --size 112 --steps 10
Prints one JSON object per run. With --serve it reads `run K` lines on stdin and answers each with the JSON
of K timed steps (the model stays built), which lets `videossl bench pretrain --reference` alternate runs of
ours and of this one in one measurement. --profile adds phase times and torch.autograd.profiler's op table.
"""
import argparse
import json
import math
import sys
import time
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------- modeling_finetune.py

class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv_bias = None
        if self.q_bias is not None:
            qkv_bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias, requires_grad=False), self.v_bias))
        qkv = F.linear(input=x, weight=self.qkv.weight, bias=qkv_bias)
        qkv = qkv.reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = (q @ k.transpose(-2, -1))
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, -1)
        return self.proj(x)


class Block(nn.Module):
    # init_values=0 and drop_path=0 in pretraining: no gamma, DropPath is Identity.
    def __init__(self, dim, num_heads, mlp_ratio, norm_layer):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim, num_frames, tubelet_size):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2 * (num_frames // tubelet_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=(tubelet_size, patch_size, patch_size),
                              stride=(tubelet_size, patch_size, patch_size))

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


def get_sinusoid_encoding_table(n_position, d_hid):
    def get_position_angle_vec(position):
        return [position / np.power(10000, 2 * (hid_j // 2) / d_hid) for hid_j in range(d_hid)]
    table = np.array([get_position_angle_vec(pos_i) for pos_i in range(n_position)])
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float, requires_grad=False).unsqueeze(0)


def _init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)
    elif isinstance(m, nn.LayerNorm):
        nn.init.constant_(m.bias, 0)
        nn.init.constant_(m.weight, 1.0)


# ---------------------------------------------------------------- modeling_pretrain.py

class PretrainVisionTransformerEncoder(nn.Module):
    def __init__(self, img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, norm_layer, tubelet_size, num_frames):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, 3, embed_dim, num_frames, tubelet_size)
        self.pos_embed = get_sinusoid_encoding_table(self.patch_embed.num_patches, embed_dim)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, norm_layer) for _ in range(depth)])
        self.norm = norm_layer(embed_dim)
        self.apply(_init_weights)

    def forward(self, x, mask):
        x = self.patch_embed(x)
        x = x + self.pos_embed.type_as(x).to(x.device).clone().detach()
        B, _, C = x.shape
        x_vis = x[~mask].reshape(B, -1, C)
        for blk in self.blocks:
            x_vis = blk(x_vis)
        return self.norm(x_vis)


class PretrainVisionTransformerDecoder(nn.Module):
    def __init__(self, num_classes, embed_dim, depth, num_heads, mlp_ratio, norm_layer):
        super().__init__()
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, norm_layer) for _ in range(depth)])
        self.norm = norm_layer(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
        self.apply(_init_weights)

    def forward(self, x, return_token_num):
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, -return_token_num:]))


class PretrainVisionTransformer(nn.Module):
    def __init__(self, a):
        super().__init__()
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.encoder = PretrainVisionTransformerEncoder(a.size, a.patch, a.embed_dim, a.depth, a.heads, 4.0, norm_layer, a.tubelet, a.frames)
        self.decoder = PretrainVisionTransformerDecoder(3 * a.tubelet * a.patch ** 2, a.decoder_dim, a.decoder_depth, a.decoder_heads, 4.0, norm_layer)
        self.encoder_to_decoder = nn.Linear(a.embed_dim, a.decoder_dim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, a.decoder_dim))
        self.pos_embed = get_sinusoid_encoding_table(self.encoder.patch_embed.num_patches, a.decoder_dim)
        nn.init.trunc_normal_(self.mask_token, std=.02, a=-.02, b=.02)

    def forward(self, x, mask, phases=None):
        mark = phases or (lambda name: None)
        x_vis = self.encoder(x, mask)
        mark("encoder")
        x_vis = self.encoder_to_decoder(x_vis)
        B, N, C = x_vis.shape
        expand_pos_embed = self.pos_embed.expand(B, -1, -1).type_as(x).to(x.device).clone().detach()
        pos_emd_vis = expand_pos_embed[~mask].reshape(B, -1, C)
        pos_emd_mask = expand_pos_embed[mask].reshape(B, -1, C)
        x_full = torch.cat([x_vis + pos_emd_vis, self.mask_token + pos_emd_mask], dim=1)
        out = self.decoder(x_full, pos_emd_mask.shape[1])
        mark("decoder")
        return out


# ---------------------------------------------------------------- optim_factory.py, masking_generator.py, engine

def parameter_groups(model, weight_decay, skip=("pos_embed", "cls_token", "mask_token")):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if len(p.shape) == 1 or name.endswith(".bias") or name in skip else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def tube_mask(rng, frames, per_frame, ratio):
    masked = int(ratio * per_frame)
    frame = np.hstack([np.zeros(per_frame - masked), np.ones(masked)])
    rng.shuffle(frame)
    return np.tile(frame, (frames, 1)).flatten()


def targets(videos, mask, tubelet, patch):
    with torch.no_grad():
        mean = torch.as_tensor(IMAGENET_DEFAULT_MEAN).to(videos.device)[None, :, None, None, None]
        std = torch.as_tensor(IMAGENET_DEFAULT_STD).to(videos.device)[None, :, None, None, None]
        unnorm = videos * std + mean
        b, c, t, h, w = unnorm.shape
        # rearrange 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'
        squeeze = (unnorm.reshape(b, c, t // tubelet, tubelet, h // patch, patch, w // patch, patch)
                   .permute(0, 2, 4, 6, 3, 5, 7, 1)
                   .reshape(b, -1, tubelet * patch * patch, c))
        norm = (squeeze - squeeze.mean(dim=-2, keepdim=True)) / (squeeze.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
        patches = norm.reshape(b, norm.shape[1], -1)
        B, _, C = patches.shape
        return patches[mask].reshape(B, -1, C)


def proc_stat():
    """(minor faults, major faults) of this process, as /proc/self/stat counts them."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[7]), int(fields[9])
    except OSError:
        return 0, 0


class Bench:
    def __init__(self, a):
        self.a = a
        torch.manual_seed(0)
        self.device = torch.device(a.device)
        self.model = PretrainVisionTransformer(a).to(self.device)
        self.model.train()
        self.optimizer = torch.optim.AdamW(parameter_groups(self.model, a.weight_decay), lr=a.lr, betas=(0.9, 0.95))
        self.videos = torch.randn(a.batch, 3, a.frames, a.size, a.size, device=self.device)
        self.loss_func = nn.MSELoss()
        self.rng = np.random.RandomState(0)
        grid = (a.frames // a.tubelet, (a.size // a.patch) ** 2)
        self.grid = grid
        self.bf16 = a.bf16 and self.device.type == "cuda"
        self.step_index = 0

    def new_mask(self):
        masks = np.stack([tube_mask(self.rng, self.grid[0], self.grid[1], self.a.mask_ratio) for _ in range(self.a.batch)])
        return torch.from_numpy(masks).to(self.device, non_blocking=True).flatten(1).to(torch.bool)

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def step(self, mask, phases=None):
        mark = phases or (lambda name: None)
        labels = targets(self.videos, mask, self.a.tubelet, self.a.patch)
        mark("target")
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            outputs = self.model(self.videos, mask, phases)
            loss = self.loss_func(input=outputs, target=labels)
        mark("loss")
        self.optimizer.zero_grad()
        mark("zero_grad")
        loss.backward()
        mark("backward")
        self.optimizer.step()
        mark("optimizer")
        self.step_index += 1
        return loss

    def run(self, steps, profile=False):
        times, cpu = [], []
        phase_totals = {}
        faults0 = proc_stat()
        for _ in range(steps):
            mask = self.new_mask()
            self.sync()
            start, cpu_start = time.perf_counter(), time.process_time()
            if profile:
                last = [start]

                def mark(name):
                    self.sync()
                    now = time.perf_counter()
                    phase_totals[name] = phase_totals.get(name, 0.0) + (now - last[0]) * 1e3
                    last[0] = now
                self.step(mask, mark)
            else:
                self.step(mask)
            self.sync()
            times.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.process_time() - cpu_start) * 1e3)
        faults1 = proc_stat()
        result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps_ms": times, "cpu_ms": cpu,
                  "minor_faults_per_step": (faults1[0] - faults0[0]) / max(steps, 1),
                  "major_faults_per_step": (faults1[1] - faults0[1]) / max(steps, 1)}
        if profile:
            result["phases_ms"] = {k: v / steps for k, v in phase_totals.items()}
            result["ops"] = self.op_table(steps)
        return result

    def op_table(self, steps):
        """Self CPU time per operator over `steps` steps (torch.autograd.profiler), per step."""
        masks = [self.new_mask() for _ in range(steps)]
        with torch.autograd.profiler.profile() as prof:
            for mask in masks:
                self.step(mask)
        rows = []
        for e in prof.key_averages():
            rows.append({"name": e.key, "count": e.count / steps, "self_us": e.self_cpu_time_total / steps})
        rows.sort(key=lambda r: -r["self_us"])
        return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--embed-dim", type=int, default=384)
    p.add_argument("--depth", type=int, default=12)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--decoder-dim", type=int, default=192)
    p.add_argument("--decoder-depth", type=int, default=4)
    p.add_argument("--decoder-heads", type=int, default=3)
    p.add_argument("--patch", type=int, default=16)
    p.add_argument("--tubelet", type=int, default=2)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--mask-ratio", type=float, default=0.9)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--serve", action="store_true", help="answer `run K` lines on stdin with K timed steps each")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    bench = Bench(a)
    bench.run(a.warmup)
    if not a.serve:
        print(json.dumps(bench.run(a.steps, a.profile)))
        return
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "parameters": sum(p.numel() for p in bench.model.parameters())}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "run":
            steps = int(words[1]) if len(words) > 1 else a.steps
            profile = len(words) > 2 and words[2] == "profile"
            print(json.dumps(bench.run(steps, profile)), flush=True)


if __name__ == "__main__":
    main()
