"""Transcription of the official SVT code paths VideoSSL reproduces, for parity fixtures.

Run by /usr/bin/python3 (torch 1.13). Sources, transcribed as they are (quirks included):
  kahnchana/svt          models/timesformer.py (Attention, Block with attention_type='divided_space_time',
                         PatchEmbed, VisionTransformer.forward_features with the nearest resizing of pos/time tables),
                         train_ssl.py (DINOLoss, the student/teacher forward of train_one_epoch, save_dict)
  facebookresearch/dino  vision_transformer.py (DINOHead), utils.py (MultiCropWrapper)
einops is not installed here: `rearrange` below is a minimal stand-in for the patterns timesformer.py uses.
Dropout and drop path are left out (rate 0 in these fixtures); dist.all_reduce is over one process.

  svt_reference.py fixtures OUT_DIR   weights, inputs and outputs of the divided ViT, DINOHead, DINOLoss and a whole
                                      SVT loss from an official-format checkpoint (svt.pth)
"""
import argparse
import re
import sys
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def rearrange(x, pattern, **sizes):
    """einops.rearrange for patterns of named axes and parenthesised groups ('b (h w t) m -> (b h w) t m')."""
    left, right = [side.strip() for side in pattern.split("->")]

    def groups(side):
        return [g.strip("()").split() for g in re.findall(r"\([^)]*\)|\S+", side)]

    lg, rg = groups(left), groups(right)
    known = dict(sizes)
    for group, dim in zip(lg, x.shape):
        unknown = [a for a in group if a not in known]
        prod = 1
        for a in group:
            if a in known:
                prod *= known[a]
        if unknown:
            known[unknown[0]] = dim // prod
    elementary = [a for g in lg for a in g]
    x = x.reshape([known[a] for a in elementary])
    order = [a for g in rg for a in g]
    x = x.permute([elementary.index(a) for a in order])
    return x.reshape([int(np.prod([known[a] for a in g])) for g in rg])


# ---------------------------------------------------------------- models/timesformer.py
class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=False, norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias)
        self.temporal_norm1 = norm_layer(dim)
        self.temporal_attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias)
        self.temporal_fc = nn.Linear(dim, dim)
        self.drop_path = nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio))

    def forward(self, x, B, T, W):
        num_spatial_tokens = (x.size(1) - 1) // T
        H = num_spatial_tokens // W
        # Temporal
        xt = x[:, 1:, :]
        xt = rearrange(xt, 'b (h w t) m -> (b h w) t m', b=B, h=H, w=W, t=T)
        res_temporal = self.drop_path(self.temporal_attn(self.temporal_norm1(xt)))
        res_temporal = rearrange(res_temporal, '(b h w) t m -> b (h w t) m', b=B, h=H, w=W, t=T)
        res_temporal = self.temporal_fc(res_temporal)
        xt = x[:, 1:, :] + res_temporal
        # Spatial
        init_cls_token = x[:, 0, :].unsqueeze(1)
        cls_token = init_cls_token.repeat(1, T, 1)
        cls_token = rearrange(cls_token, 'b t m -> (b t) m', b=B, t=T).unsqueeze(1)
        xs = xt
        xs = rearrange(xs, 'b (h w t) m -> (b t) (h w) m', b=B, h=H, w=W, t=T)
        xs = torch.cat((cls_token, xs), 1)
        res_spatial = self.drop_path(self.attn(self.norm1(xs)))
        # Taking care of CLS token
        cls_token = res_spatial[:, 0, :]
        cls_token = rearrange(cls_token, '(b t) m -> b t m', b=B, t=T)
        cls_token = torch.mean(cls_token, 1, True)  # averaging for every frame
        res_spatial = res_spatial[:, 1:, :]
        res_spatial = rearrange(res_spatial, '(b t) (h w) m -> b (h w t) m', b=B, h=H, w=W, t=T)
        res = res_spatial
        x = xt
        # Mlp
        x = torch.cat((init_cls_token, x), 1) + torch.cat((cls_token, res), 1)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.num_patches = (img_size // patch_size) * (img_size // patch_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        B, C, T, H, W = x.shape
        x = rearrange(x, 'b c t h w -> (b t) c h w')
        x = self.proj(x)
        W = x.size(-1)
        x = x.flatten(2).transpose(1, 2)
        return x, T, W


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.,
                 qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6), num_frames=8):
        super().__init__()
        self.embed_dim = embed_dim
        self.patch_embed = PatchEmbed(img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.time_embed = nn.Parameter(torch.zeros(1, num_frames, embed_dim))
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias, norm_layer) for _ in range(depth)])
        self.norm = norm_layer(embed_dim)

    def forward_features(self, x, get_all=False):
        B = x.shape[0]
        x, T, W = self.patch_embed(x)
        cls_tokens = self.cls_token.expand(x.size(0), -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        # resizing the positional embeddings in case they don't match the input at inference
        if x.size(1) != self.pos_embed.size(1):
            pos_embed = self.pos_embed
            cls_pos_embed = pos_embed[0, 0, :].unsqueeze(0).unsqueeze(1)
            other_pos_embed = pos_embed[0, 1:, :].unsqueeze(0).transpose(1, 2)
            P = int(other_pos_embed.size(2) ** 0.5)
            H = x.size(1) // W
            other_pos_embed = other_pos_embed.reshape(1, x.size(2), P, P)
            new_pos_embed = F.interpolate(other_pos_embed, size=(H, W), mode='nearest')
            new_pos_embed = new_pos_embed.flatten(2)
            new_pos_embed = new_pos_embed.transpose(1, 2)
            new_pos_embed = torch.cat((cls_pos_embed, new_pos_embed), 1)
            x = x + new_pos_embed
        else:
            x = x + self.pos_embed
        # Time Embeddings
        cls_tokens = x[:B, 0, :].unsqueeze(1)
        x = x[:, 1:]
        x = rearrange(x, '(b t) n m -> (b n) t m', b=B, t=T)
        # Resizing time embeddings in case they don't match
        if T != self.time_embed.size(1):
            time_embed = self.time_embed.transpose(1, 2)
            new_time_embed = F.interpolate(time_embed, size=(T), mode='nearest')
            new_time_embed = new_time_embed.transpose(1, 2)
            x = x + new_time_embed
        else:
            x = x + self.time_embed
        x = rearrange(x, '(b n) t m -> b (n t) m', b=B, t=T)
        x = torch.cat((cls_tokens, x), dim=1)
        for blk in self.blocks:
            x = blk(x, B, T, W)
        x = self.norm(x)
        if get_all:
            return x
        return x[:, 0]

    def forward(self, x):
        return self.forward_features(x)


# ---------------------------------------------------------------- dino vision_transformer.py / utils.py
class DINOHead(nn.Module):
    def __init__(self, in_dim, out_dim, use_bn=False, norm_last_layer=True, nlayers=3, hidden_dim=2048, bottleneck_dim=256):
        super().__init__()
        nlayers = max(nlayers, 1)
        if nlayers == 1:
            self.mlp = nn.Linear(in_dim, bottleneck_dim)
        else:
            layers = [nn.Linear(in_dim, hidden_dim)]
            layers.append(nn.GELU())
            for _ in range(nlayers - 2):
                layers.append(nn.Linear(hidden_dim, hidden_dim))
                layers.append(nn.GELU())
            layers.append(nn.Linear(hidden_dim, bottleneck_dim))
            self.mlp = nn.Sequential(*layers)
        self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        self.last_layer.weight_g.data.fill_(1)
        if norm_last_layer:
            self.last_layer.weight_g.requires_grad = False

    def forward(self, x):
        x = self.mlp(x)
        x = nn.functional.normalize(x, dim=-1, p=2)
        x = self.last_layer(x)
        return x


class MultiCropWrapper(nn.Module):
    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x):
        if not isinstance(x, list):
            x = [x]
        idx_crops = torch.cumsum(torch.unique_consecutive(
            torch.tensor([inp.shape[-1] for inp in x]),
            return_counts=True,
        )[1], 0)
        start_idx, output = 0, torch.empty(0).to(x[0].device)
        for end_idx in idx_crops:
            _out = self.backbone(torch.cat(x[start_idx: end_idx]))
            output = torch.cat((output, _out))
            start_idx = end_idx
        return self.head(output)


# ---------------------------------------------------------------- train_ssl.py
class DINOLoss(nn.Module):
    def __init__(self, out_dim, ncrops, warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs, nepochs,
                 student_temp=0.1, center_momentum=0.9, global_crops=2):
        super().__init__()
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.n_crops = ncrops
        self.global_crops = global_crops
        self.register_buffer("center", torch.zeros(1, out_dim))
        self.teacher_temp_schedule = np.concatenate((
            np.linspace(warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs),
            np.ones(nepochs - warmup_teacher_temp_epochs) * teacher_temp
        ))

    def forward(self, student_output, teacher_output, epoch):
        total_loss = 0
        n_loss_terms = 0
        student_out = student_output / self.student_temp
        student_out = student_out.chunk(self.n_crops)
        temp = self.teacher_temp_schedule[epoch]
        teacher_out = F.softmax((teacher_output - self.center) / temp, dim=-1)
        teacher_out = teacher_out.detach().chunk(self.global_crops)
        for iq, q in enumerate(teacher_out):
            for v in range(len(student_out)):
                if v == iq:
                    continue
                loss = torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1)
                total_loss += loss.mean()
                n_loss_terms += 1
        total_loss /= n_loss_terms
        self.update_center(teacher_output)
        return total_loss

    @torch.no_grad()
    def update_center(self, teacher_output):
        batch_center = torch.sum(teacher_output, dim=0, keepdim=True)
        batch_center = batch_center / (len(teacher_output) * 1)  # dist.all_reduce over one process
        self.center = self.center * self.center_momentum + batch_center * (1 - self.center_momentum)


# ---------------------------------------------------------------- fixtures
def randomize(module, scale=0.3):
    """Random weights everywhere (LayerNorms, tables and temporal_fc included) so every path matters."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            base = 1.0 if re.search(r"norm\w*\.weight$", name) else 0.0
            p.copy_(torch.randn_like(p) * (scale if p.dim() > 1 else 0.1) + base)


TINY = dict(img_size=64, patch_size=16, embed_dim=64, depth=2, num_heads=2, num_frames=4)


def fixtures(out_dir):
    torch.manual_seed(0)
    # Divided ViT on clips of the table's size and of others (pos 4x4 -> 3x3, 2x2, 6x6; time 4 -> 2, 6, 8).
    vit = VisionTransformer(**TINY)
    randomize(vit)
    io = {}
    shapes = {"same": (4, 64), "s48t2": (2, 48), "s32t6": (6, 32), "s96t8": (8, 96)}
    with torch.no_grad():
        for key, (t, s) in shapes.items():
            clip = torch.randn(2, 3, t, s, s)
            io[f"clip_{key}"] = clip
            io[f"tokens_{key}"] = vit.forward_features(clip, get_all=True)
    torch.save(vit.state_dict(), f"{out_dir}/divst.pth")
    torch.save(io, f"{out_dir}/divst_io.pth")

    # DINOHead (3 layers, trained weight_g) and DINOLoss over 2 global + 2 local views of 3 clips, two steps.
    head = DINOHead(64, 128, norm_last_layer=False, hidden_dim=48, bottleneck_dim=16)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    x = torch.randn(12, 64)
    loss_fn = DINOLoss(128, 4, 0.02, 0.05, 3, 10)
    loss_fn.center = torch.randn(1, 128) * 0.5
    center0 = loss_fn.center.clone()
    student = torch.randn(12, 128) * 2
    teacher = torch.randn(6, 128) * 2
    loss1 = loss_fn(student, teacher, 1)
    center1 = loss_fn.center.clone()
    loss2 = loss_fn(student * 0.5, teacher * 1.5, 4)
    with torch.no_grad():
        out = head(x)
    torch.save(head.state_dict(), f"{out_dir}/head.pth")
    torch.save({"x": x, "out": out, "student": student, "teacher": teacher, "center0": center0,
                "loss1": loss1.reshape(1), "center1": center1, "loss2": loss2.reshape(1), "center2": loss_fn.center.clone()},
               f"{out_dir}/dino_io.pth")

    # A whole SVT loss: student on every view, teacher on the 2 globals, from an official-format checkpoint.
    student = MultiCropWrapper(VisionTransformer(**TINY), DINOHead(64, 128, hidden_dim=48, bottleneck_dim=16))
    teacher = MultiCropWrapper(VisionTransformer(**TINY), DINOHead(64, 128, hidden_dim=48, bottleneck_dim=16))
    randomize(student)
    randomize(teacher)
    dino_loss = DINOLoss(128, 4, 0.04, 0.04, 0, 10)
    dino_loss.center = torch.randn(1, 128) * 0.5
    center_before = dino_loss.center.clone()
    views = [torch.randn(2, 3, 4, 64, 64), torch.randn(2, 3, 4, 64, 64), torch.randn(2, 3, 2, 32, 32), torch.randn(2, 3, 2, 32, 32)]
    with torch.no_grad():
        teacher_output = teacher(views[:2])
        student_output = student(views)
        loss = dino_loss(student_output, teacher_output, 0)
    args = argparse.Namespace(arch="timesformer", out_dim=128, norm_last_layer=True, momentum_teacher=0.996,
                              warmup_teacher_temp=0.04, teacher_temp=0.04, epochs=10, local_crops_number=2, lr=5e-4)
    checkpoint = {
        "student": {"module." + k: v for k, v in student.state_dict().items()},  # DDP
        "teacher": teacher.state_dict(),
        "motion_student": 0,
        "motion_teacher": 0,
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "weight_decay": 0.04, "params": [0, 1]}]},
        "epoch": 1,
        "args": args,
        "dino_loss": {"center": center_before},
    }
    torch.save(checkpoint, f"{out_dir}/svt.pth")
    svt_io = {f"view{i}": v for i, v in enumerate(views)}
    svt_io.update({"loss": loss.reshape(1), "center_after": dino_loss.center.clone(),
                   "student_output": student_output, "teacher_output": teacher_output})
    torch.save(svt_io, f"{out_dir}/svt_io.pth")


if __name__ == "__main__":
    {"fixtures": fixtures}[sys.argv[1]](sys.argv[2])
