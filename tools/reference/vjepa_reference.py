"""Transcription of the official V-JEPA / V-JEPA 2 code paths VideoSSL reproduces, for parity fixtures.

Run by /usr/bin/python3 (torch 1.13). Sources, transcribed as they are (bugs and quirks included):
  facebookresearch/jepa    src/masks/multiblock3d.py (_MaskGenerator), src/masks/utils.py (apply_masks),
                           src/models/utils/pos_embs.py, src/models/utils/modules.py (Attention, Block, MLP),
                           src/models/vision_transformer.py, src/models/predictor.py, app/vjepa/train.py (loss)
  facebookresearch/vjepa2  src/models/utils/modules.py (RoPEAttention, rotate_queries_or_keys),
                           src/models/predictor.py (token sorting, mask tokens by clip-length group)
DDP wrappers, dropout, drop path and checkpointing are left out (all zero / identity in these fixtures).

  vjepa_reference.py fixtures OUT_DIR   checkpoints + inputs + masks + outputs for V-JEPA (1) and V-JEPA 2 (2)
  vjepa_reference.py maskstats OUT.json masked fraction / context counts of the ViT-L grid over many draws
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- pos_embs.py
def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=float)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000 ** omega
    pos = pos.reshape(-1)
    out = np.einsum("m,d->md", pos, omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def get_3d_sincos_pos_embed(embed_dim, grid_size, grid_depth, uniform_power=False):
    grid_d = np.arange(grid_depth, dtype=float)
    grid_h = np.arange(grid_size, dtype=float)
    grid_w = np.arange(grid_size, dtype=float)
    grid_h, grid_d, grid_w = np.meshgrid(grid_h, grid_d, grid_w)
    if not uniform_power:
        h_embed_dim = embed_dim // 4
        w_embed_dim = embed_dim // 4
        d_embed_dim = embed_dim // 2
    else:
        h_embed_dim = w_embed_dim = d_embed_dim = int(np.ceil(embed_dim / 6) * 2)
    emb_h = get_1d_sincos_pos_embed_from_grid(h_embed_dim, grid_h)
    emb_w = get_1d_sincos_pos_embed_from_grid(w_embed_dim, grid_w)
    emb_d = get_1d_sincos_pos_embed_from_grid(d_embed_dim, grid_d)
    pos_embed = np.concatenate([emb_d, emb_h, emb_w], axis=1)
    return pos_embed[:, :embed_dim]


# ---------------------------------------------------------------- masks/utils.py
def apply_masks(x, masks, concat=True):
    all_x = []
    for m in masks:
        mask_keep = m.unsqueeze(-1).repeat(1, 1, x.size(-1))
        all_x += [torch.gather(x, dim=1, index=mask_keep)]
    if not concat:
        return all_x
    return torch.cat(all_x, dim=0)


# ---------------------------------------------------------------- vjepa2 modules.py (RoPE)
def rotate_queries_or_keys(x, pos, textbook=False):
    B, num_heads, N, D = x.size()
    omega = torch.arange(D // 2, dtype=x.dtype, device=x.device)
    omega /= D / 2.0
    omega = 1.0 / 10000 ** omega
    freq = torch.einsum("..., f -> ... f", pos.to(x.dtype), omega)
    emb_sin = freq.sin()
    emb_cos = freq.cos()
    if textbook:  # the fix of vjepa2 PR #15
        emb_sin = emb_sin.repeat_interleave(2, dim=-1)
        emb_cos = emb_cos.repeat_interleave(2, dim=-1)
    else:
        emb_sin = emb_sin.squeeze(-1).repeat(1, 1, 1, 2)
        emb_cos = emb_cos.squeeze(-1).repeat(1, 1, 1, 2)
    y = x.unflatten(-1, (-1, 2))
    y1, y2 = y.unbind(dim=-1)
    y = torch.stack((-y2, y1), dim=-1)
    y = y.flatten(-2)
    return (x * emb_cos) + (y * emb_sin)


class MLP(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """jepa modules.py Attention (use_sdpa path, dropout 0)."""

    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        x = F.scaled_dot_product_attention(q, k, v) if hasattr(F, "scaled_dot_product_attention") else \
            ((q @ k.transpose(-2, -1)) * (C // self.num_heads) ** -0.5).softmax(dim=-1) @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class RoPEAttention(nn.Module):
    """vjepa2 modules.py RoPEAttention (T, H_patches, W_patches given by the encoder; None in the predictor)."""

    def __init__(self, dim, num_heads, qkv_bias=True, grid_size=14, textbook=False):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.d_dim = self.h_dim = self.w_dim = int(2 * ((head_dim // 3) // 2))
        self.grid_size = grid_size
        self.textbook = textbook

    def separate_positions(self, ids, H_patches=None, W_patches=None):
        if H_patches is None or W_patches is None:
            tokens_per_frame = int(self.grid_size * self.grid_size)
            tokens_per_row = self.grid_size
        else:
            tokens_per_frame = int(H_patches * W_patches)
            tokens_per_row = W_patches
        frame_ids = ids // tokens_per_frame
        height_ids = (ids - tokens_per_frame * frame_ids) // tokens_per_row
        width_ids = (ids - tokens_per_frame * frame_ids) - tokens_per_row * height_ids
        return frame_ids, height_ids, width_ids

    def forward(self, x, mask=None, T=None, H_patches=None, W_patches=None):
        B, N, C = x.size()
        grid_depth = int(N // (self.grid_size * self.grid_size))
        qkv = self.qkv(x).unflatten(-1, (3, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if mask is not None:
            mask = mask.unsqueeze(1).repeat(1, self.num_heads, 1)
            d_mask, h_mask, w_mask = self.separate_positions(mask, H_patches, W_patches)
        else:
            if T is None or H_patches is None or W_patches is None:
                mask = torch.arange(int(grid_depth * self.grid_size * self.grid_size), device=x.device)
            else:
                mask = torch.arange(int(T * H_patches * W_patches), device=x.device)
            d_mask, h_mask, w_mask = self.separate_positions(mask, H_patches, W_patches)
        s = 0
        qd = rotate_queries_or_keys(q[..., s:s + self.d_dim], pos=d_mask, textbook=self.textbook)
        kd = rotate_queries_or_keys(k[..., s:s + self.d_dim], pos=d_mask, textbook=self.textbook)
        s += self.d_dim
        qh = rotate_queries_or_keys(q[..., s:s + self.h_dim], pos=h_mask, textbook=self.textbook)
        kh = rotate_queries_or_keys(k[..., s:s + self.h_dim], pos=h_mask, textbook=self.textbook)
        s += self.h_dim
        qw = rotate_queries_or_keys(q[..., s:s + self.w_dim], pos=w_mask, textbook=self.textbook)
        kw = rotate_queries_or_keys(k[..., s:s + self.w_dim], pos=w_mask, textbook=self.textbook)
        s += self.w_dim
        if s < self.head_dim:
            q = torch.cat([qd, qh, qw, q[..., s:]], dim=-1)
            k = torch.cat([kd, kh, kw, k[..., s:]], dim=-1)
        else:
            q = torch.cat([qd, qh, qw], dim=-1)
            k = torch.cat([kd, kh, kw], dim=-1)
        attn = (q @ k.transpose(-2, -1)) * self.head_dim ** -0.5
        x = attn.softmax(dim=-1) @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, use_rope=False, grid_size=14, textbook=False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = RoPEAttention(dim, num_heads, grid_size=grid_size, textbook=textbook) if use_rope else Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLP(dim, int(dim * mlp_ratio))
        self.use_rope = use_rope

    def forward(self, x, mask=None, T=None, H_patches=None, W_patches=None):
        if self.use_rope:
            y = self.attn(self.norm1(x), mask=mask, T=T, H_patches=H_patches, W_patches=W_patches)
        else:
            y = self.attn(self.norm1(x), mask=mask)
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchEmbed3D(nn.Module):
    def __init__(self, patch_size, tubelet_size, in_chans, embed_dim):
        super().__init__()
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=(tubelet_size, patch_size, patch_size),
                              stride=(tubelet_size, patch_size, patch_size))

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """jepa vision_transformer.py (use_rope=False) / vjepa2 (use_rope=True: no pos_embed)."""

    def __init__(self, img_size, patch_size, num_frames, tubelet_size, embed_dim, depth, num_heads,
                 uniform_power=True, use_rope=False, textbook=False):
        super().__init__()
        self.patch_size, self.tubelet_size, self.use_rope = patch_size, tubelet_size, use_rope
        self.patch_embed = PatchEmbed3D(patch_size, tubelet_size, 3, embed_dim)
        grid_size, grid_depth = img_size // patch_size, num_frames // tubelet_size
        n = grid_depth * grid_size * grid_size
        if not use_rope:
            self.pos_embed = nn.Parameter(torch.zeros(1, n, embed_dim), requires_grad=False)
            self.pos_embed.data.copy_(torch.from_numpy(get_3d_sincos_pos_embed(
                embed_dim, grid_size, grid_depth, uniform_power=uniform_power)).float().unsqueeze(0))
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, use_rope=use_rope, grid_size=grid_size, textbook=textbook)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

    def forward(self, x, masks=None):
        if masks is not None and not isinstance(masks, list):
            masks = [masks]
        _, _, T, H, W = x.shape
        T = T // self.tubelet_size
        H_patches, W_patches = H // self.patch_size, W // self.patch_size
        x = self.patch_embed(x)
        if not self.use_rope:
            x = x + self.pos_embed
        if masks is not None:
            x = apply_masks(x, masks)
            masks = torch.cat(masks, dim=0)
        for blk in self.blocks:
            x = blk(x, mask=masks, T=T, H_patches=H_patches, W_patches=W_patches)
        return self.norm(x)


class VisionTransformerPredictor(nn.Module):
    """jepa predictor.py (use_mask_tokens) / vjepa2 predictor.py (use_rope: no table, sorted tokens)."""

    def __init__(self, img_size, patch_size, num_frames, tubelet_size, embed_dim, predictor_embed_dim, depth, num_heads,
                 num_mask_tokens, uniform_power=True, use_rope=False, textbook=False):
        super().__init__()
        self.use_rope = use_rope
        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim, bias=True)
        self.mask_tokens = nn.ParameterList([nn.Parameter(torch.zeros(1, 1, predictor_embed_dim)) for _ in range(num_mask_tokens)])
        self.num_mask_tokens = num_mask_tokens
        grid_size, grid_depth = img_size // patch_size, num_frames // tubelet_size
        self.num_patches = grid_depth * grid_size * grid_size
        if not use_rope:
            self.predictor_pos_embed = nn.Parameter(torch.zeros(1, self.num_patches, predictor_embed_dim), requires_grad=False)
            self.predictor_pos_embed.data.copy_(torch.from_numpy(get_3d_sincos_pos_embed(
                predictor_embed_dim, grid_size, grid_depth, uniform_power=uniform_power)).float().unsqueeze(0))
        self.predictor_blocks = nn.ModuleList([Block(predictor_embed_dim, num_heads, use_rope=use_rope, grid_size=grid_size, textbook=textbook)
                                               for _ in range(depth)])
        self.predictor_norm = nn.LayerNorm(predictor_embed_dim, eps=1e-6)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim, bias=True)

    def forward(self, ctxt, masks_ctxt, masks_tgt, mask_index=1):
        masks_ctxt, masks_tgt = [masks_ctxt], [masks_tgt]
        B = len(ctxt) // len(masks_ctxt)
        x = self.predictor_embed(ctxt)
        _, N_ctxt, D = x.shape
        if not self.use_rope:
            x += apply_masks(self.predictor_pos_embed.repeat(B, 1, 1), masks_ctxt)
        mask_index = mask_index % self.num_mask_tokens
        pred_tokens = self.mask_tokens[mask_index].repeat(B, self.num_patches, 1)
        pred_tokens = apply_masks(pred_tokens, masks_tgt)
        if not self.use_rope:
            pred_tokens += apply_masks(self.predictor_pos_embed.repeat(B, 1, 1), masks_tgt)
        x = x.repeat(len(masks_tgt), 1, 1)
        x = torch.cat([x, pred_tokens], dim=1)
        masks = torch.cat([torch.cat(masks_ctxt, dim=0), torch.cat(masks_tgt, dim=0)], dim=1)
        if self.use_rope:
            argsort = torch.argsort(masks, dim=1)
            masks = torch.stack([masks[i, row] for i, row in enumerate(argsort)], dim=0)
            x = torch.stack([x[i, row, :] for i, row in enumerate(argsort)], dim=0)
        for blk in self.predictor_blocks:
            x = blk(x, mask=masks)
        x = self.predictor_norm(x)
        if self.use_rope:
            reverse_argsort = torch.argsort(argsort, dim=1)
            x = torch.stack([x[i, row, :] for i, row in enumerate(reverse_argsort)], dim=0)
        x = x[:, N_ctxt:]
        return self.predictor_proj(x)


# ---------------------------------------------------------------- multiblock3d.py _MaskGenerator
class MaskGenerator:
    def __init__(self, crop_size, num_frames, spatial_patch_size, temporal_patch_size, spatial_pred_mask_scale,
                 temporal_pred_mask_scale, aspect_ratio, npred, max_context_frames_ratio=1.0, rand=None, randint=None):
        self.height = self.width = crop_size // spatial_patch_size
        self.duration = num_frames // temporal_patch_size
        self.aspect_ratio = aspect_ratio
        self.spatial_pred_mask_scale = spatial_pred_mask_scale
        self.temporal_pred_mask_scale = temporal_pred_mask_scale
        self.npred = npred
        self.max_context_duration = max(1, int(self.duration * max_context_frames_ratio))
        self.itr = -1
        # The official draws: torch.rand(1, generator=g) seeded by the call counter, global torch.randint.
        self.rand = rand
        self.randint = randint or (lambda lo, hi: int(torch.randint(lo, hi, (1,))))

    def _sample_block_size(self, rand):
        min_t, max_t = self.temporal_pred_mask_scale
        t = max(1, int(self.duration * (min_t + rand() * (max_t - min_t))))
        min_s, max_s = self.spatial_pred_mask_scale
        spatial_num_keep = int(self.height * self.width * (min_s + rand() * (max_s - min_s)))
        min_ar, max_ar = self.aspect_ratio
        aspect_ratio = min_ar + rand() * (max_ar - min_ar)
        h = int(round(math.sqrt(spatial_num_keep * aspect_ratio)))
        w = int(round(math.sqrt(spatial_num_keep / aspect_ratio)))
        return (t, min(h, self.height), min(w, self.width))

    def _sample_block_mask(self, b_size):
        t, h, w = b_size
        top = self.randint(0, self.height - h + 1)
        left = self.randint(0, self.width - w + 1)
        start = self.randint(0, self.duration - t + 1)
        mask = torch.ones((self.duration, self.height, self.width), dtype=torch.int32)
        mask[start:start + t, top:top + h, left:left + w] = 0
        if self.max_context_duration < self.duration:
            mask[self.max_context_duration:, :, :] = 0
        return mask

    def __call__(self, batch_size):
        self.itr += 1
        if self.rand is None:
            g = torch.Generator()
            g.manual_seed(self.itr)
            rand = lambda: torch.rand(1, generator=g).item()  # noqa: E731
        else:
            rand = self.rand
        p_size = self._sample_block_size(rand)
        collated_masks_pred, collated_masks_enc = [], []
        min_keep_enc = min_keep_pred = self.duration * self.height * self.width
        for _ in range(batch_size):
            empty_context = True
            while empty_context:
                mask_e = torch.ones((self.duration, self.height, self.width), dtype=torch.int32)
                for _ in range(self.npred):
                    mask_e *= self._sample_block_mask(p_size)
                mask_e = mask_e.flatten()
                mask_p = torch.argwhere(mask_e == 0).squeeze()
                mask_e = torch.nonzero(mask_e).squeeze()
                empty_context = len(mask_e) == 0
                if not empty_context:
                    min_keep_pred = min(min_keep_pred, len(mask_p))
                    min_keep_enc = min(min_keep_enc, len(mask_e))
                    collated_masks_pred.append(mask_p)
                    collated_masks_enc.append(mask_e)
        collated_masks_pred = torch.utils.data.default_collate([cm[:min_keep_pred] for cm in collated_masks_pred])
        collated_masks_enc = torch.utils.data.default_collate([cm[:min_keep_enc] for cm in collated_masks_enc])
        return collated_masks_enc, collated_masks_pred


# ---------------------------------------------------------------- app/vjepa/train.py step
def jepa_loss(encoder, predictor, target_encoder, clips, masks_enc, masks_pred, v2, loss_exp=1.0):
    with torch.no_grad():
        h = target_encoder(clips)
        h = F.layer_norm(h, (h.size(-1),))
        h = apply_masks(h, masks_pred, concat=False)
    # MultiMaskWrapper / PredictorMultiMaskWrapper: one call per mask pair; V-JEPA 2 picks the mask token by
    # clip-length group (0 here), V-JEPA by generator index.
    z = [encoder(clips, m) for m in masks_enc]
    z = [predictor(zi, mc, mt, mask_index=0 if v2 else i) for i, (zi, mc, mt) in enumerate(zip(z, masks_enc, masks_pred))]
    loss = 0.0
    for zi, hi in zip(z, h):
        loss += torch.mean(torch.abs(zi - hi) ** loss_exp) / loss_exp
    loss /= len(masks_pred)
    return z, h, loss


TINY = dict(img_size=64, patch_size=16, num_frames=4, tubelet_size=2)


def fixtures(out_dir):
    torch.manual_seed(0)
    for version in (1, 2):
        v2 = version == 2
        encoder = VisionTransformer(embed_dim=64, depth=2, num_heads=2, use_rope=v2, **TINY)
        predictor = VisionTransformerPredictor(embed_dim=64, predictor_embed_dim=32, depth=2, num_heads=2,
                                               num_mask_tokens=1 if v2 else 2, use_rope=v2, **TINY)
        target_encoder = VisionTransformer(embed_dim=64, depth=2, num_heads=2, use_rope=v2, **TINY)
        with torch.no_grad():  # random weights everywhere (LayerNorms and mask tokens included) so every path matters
            for module in (encoder, predictor, target_encoder):
                for name, p in module.named_parameters():
                    if p.requires_grad:
                        p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.1) + (1.0 if name.endswith("norm1.weight") or name.endswith("norm2.weight") else 0.0))
        uniforms = torch.rand(16).tolist()
        ints = torch.randint(0, 1 << 30, (512,)).tolist()
        drawn = {"u": [], "i": []}

        def rand():
            v = uniforms[len(drawn["u"])]
            drawn["u"].append(v)
            return v

        def randint(lo, hi):
            v = lo + ints[len(drawn["i"])] % (hi - lo)
            drawn["i"].append(ints[len(drawn["i"])])
            return v

        gens = [MaskGenerator(64, 4, 16, 2, (0.15, 0.15), (1.0, 1.0), (0.75, 1.5), 8, rand=rand, randint=randint),
                MaskGenerator(64, 4, 16, 2, (0.7, 0.7), (1.0, 1.0), (0.75, 1.5), 2, rand=rand, randint=randint)]
        masks_enc, masks_pred, draws = [], [], []
        for g in gens:
            before = (len(drawn["u"]), len(drawn["i"]))
            me, mp = g(3)
            masks_enc.append(me)
            masks_pred.append(mp)
            draws.append((drawn["u"][before[0]:], drawn["i"][before[1]:]))
        clips = torch.randn(3, 3, 4, 64, 64)
        z, h, loss = jepa_loss(encoder, predictor, target_encoder, clips, masks_enc, masks_pred, v2)
        prefix = "module.backbone." if v2 else "module."
        checkpoint = {k: {prefix + n: t for n, t in m.state_dict().items()}
                      for k, m in (("encoder", encoder), ("predictor", predictor), ("target_encoder", target_encoder))}
        checkpoint.update({"opt": None, "scaler": None, "epoch": 1, "loss": float(loss), "batch_size": 3, "world_size": 1, "lr": 1e-3})
        torch.save(checkpoint, f"{out_dir}/vjepa{version}.pth.tar")
        io = {"clips": clips, "loss": loss.reshape(1)}
        for i in range(2):
            io[f"context{i}"] = masks_enc[i]
            io[f"targets{i}"] = masks_pred[i]
            io[f"prediction{i}"] = z[i].detach()
            io[f"target{i}"] = h[i]
            io[f"uniform{i}"] = torch.tensor(draws[i][0], dtype=torch.float64)
            io[f"randint{i}"] = torch.tensor(draws[i][1], dtype=torch.int64)
        torch.save(io, f"{out_dir}/io{version}.pth")
        # RoPE on its own, both pairings: q [1, 2, 5, 12] at positions 0, 7, 13, 30, 31 on a 4x4 grid.
        q = torch.randn(1, 2, 5, 32)
        pos = torch.tensor([[0, 7, 13, 30, 31]])
        rope = {"q": q, "pos": pos}
        for textbook in (False, True):
            att = RoPEAttention(64, 2, grid_size=4, textbook=textbook)
            d, hh, w = att.separate_positions(pos.unsqueeze(1).repeat(1, 2, 1), 4, 4)
            s = att.d_dim
            parts = [rotate_queries_or_keys(q[..., 0:s], d, textbook), rotate_queries_or_keys(q[..., s:2 * s], hh, textbook),
                     rotate_queries_or_keys(q[..., 2 * s:3 * s], w, textbook), q[..., 3 * s:]]
            rope["textbook" if textbook else "official"] = torch.cat(parts, dim=-1)
        torch.save(rope, f"{out_dir}/rope.pth")


def maskstats(out_path, batches=200, batch_size=8):
    torch.manual_seed(0)
    gens = [MaskGenerator(224, 16, 16, 2, (0.15, 0.15), (1.0, 1.0), (0.75, 1.5), 8),
            MaskGenerator(224, 16, 16, 2, (0.7, 0.7), (1.0, 1.0), (0.75, 1.5), 2)]
    stats = []
    for g in gens:
        masked, context = [], []
        for _ in range(batches):
            me, mp = g(batch_size)
            masked.append(mp.shape[1] / 1568.0)
            context.append(me.shape[1])
        stats.append({"masked_fraction": float(np.mean(masked)), "context_tokens": float(np.mean(context))})
    with open(out_path, "w") as f:
        json.dump(stats, f)


if __name__ == "__main__":
    {"fixtures": fixtures, "maskstats": maskstats}[sys.argv[1]](sys.argv[2])
