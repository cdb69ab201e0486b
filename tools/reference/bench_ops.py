#!/usr/bin/env python3
"""PyTorch reference for `videossl bench ops`: the same measurements, done by PyTorch eager on the same libtorch.

Run with Debian's interpreter (python3-torch shares libtorch 1.13 with the suite):
    /usr/bin/python3 tools/reference/bench_ops.py --dim 384 --tokens 1568 --batch 2
Prints one JSON object so `videossl bench ops` can read it and show the ratios.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def per_op_overhead(iterations):
    a, b = torch.ones(8, 8), torch.ones(8, 8)
    results = {}
    for name, op in [("add", lambda: torch.add(a, b)), ("matmul", lambda: torch.matmul(a, b))]:
        for _ in range(1000):
            op()
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(iterations):
                op()
            best = min(best, (time.perf_counter() - start) / iterations)
        results[name] = best * 1e6
    return results


class Block(torch.nn.Module):
    """VideoMAE's pre-norm block: qkv without bias plus q_bias/v_bias, exact GELU, LN eps 1e-6."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.qkv = torch.nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = torch.nn.Parameter(torch.zeros(dim))
        self.v_bias = torch.nn.Parameter(torch.zeros(dim))
        self.proj = torch.nn.Linear(dim, dim)
        self.norm2 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = torch.nn.Linear(dim, dim * 4)
        self.fc2 = torch.nn.Linear(dim * 4, dim)

    def attention(self, x):
        B, N, C = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if hasattr(F, "scaled_dot_product_attention"):
            out = F.scaled_dot_product_attention(q, k, v)
        else:  # libtorch 1.13: the same math VideoSSL falls back to
            out = (q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5)).softmax(-1) @ v
        return self.proj(out.transpose(1, 2).reshape(B, N, C))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


def block_step(dim, heads, tokens, batch, iterations, device, bf16):
    torch.manual_seed(0)
    block = Block(dim, heads).to(device)
    x = torch.randn(batch, tokens, dim, device=device)

    def step():
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            y = block(x)
        y.float().mean().backward()
        block.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2] * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--tokens", type=int, default=1568)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--op-iterations", type=int, default=20000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    overhead = per_op_overhead(a.op_iterations)
    step_ms = block_step(a.dim, a.heads, a.tokens, a.batch, a.iterations, torch.device(a.device), a.bf16)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "add_us": overhead["add"], "matmul_us": overhead["matmul"], "block_ms": step_ms}))


if __name__ == "__main__":
    main()
