"""Measure whole-model serving iterations of a Llama-shaped model and write a measured CSV.

``python3 -m parallax_profiler.iterations --out measured.csv [--model llama-3.1-8b] [--dry-run]``

The model is built from its configuration with random bf16 weights in plain PyTorch modules
(no download): embedding, N decoder blocks (RMSNorm, fused QKV projection, rotary embedding,
grouped-query SDPA attention over a preallocated KV cache, output projection, residual,
RMSNorm, fused gate/up projection, SiLU-and-multiply, down projection, residual), final norm,
LM head on each sequence's last token, greedy sampling. One "iteration" is one forward pass
for a batch of prefill chunks (``BxS`` or ``BxS+P``: B sequences of S new tokens after P
cached ones) and decode requests (``BxC``: B requests with C tokens of context), as a
vLLM-class engine runs it; eager, or replayed from a CUDA graph (decode-only batches).

Timing: CUDA events around the forward; median of ``--reps`` after warm-ups. Rows follow
docs/measured-format.md: model, gpu, tp, prefill, decode, cuda_graphs, measured_ms.
"""

import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from .profile import gpu_catalog_name

CONFIGS = {
    # Llama-3.1-8B config.json: hidden 4096, 32 layers, 32 heads, 8 KV heads, MLP 14336,
    # vocab 128256, rope_theta 500000, rms_norm_eps 1e-5.
    "llama-3.1-8b": dict(hidden=4096, layers=32, heads=32, kv_heads=8, inter=14336, vocab=128256, theta=500000.0),
    # Llama-2-7B: multi-head attention (32 KV heads), MLP 11008, vocab 32000, rope_theta 1e4.
    "llama-2-7b": dict(hidden=4096, layers=32, heads=32, kv_heads=32, inter=11008, vocab=32000, theta=10000.0),
    # Qwen2.5-7B: hidden 3584, 28 layers, 28 heads, 4 KV heads, MLP 18944, vocab 152064
    # (its small QKV biases are left out).
    "qwen2.5-7b": dict(hidden=3584, layers=28, heads=28, kv_heads=4, inter=18944, vocab=152064, theta=1000000.0),
    "tiny-llama": dict(hidden=64, layers=2, heads=4, kv_heads=2, inter=128, vocab=256, theta=10000.0),
}

DEFAULT_CASES = [
    # (prefill specs, decode specs, cuda graphs)
    (["1x512"], [], False),
    (["1x2048"], [], False),
    (["4x1024"], [], False),
    (["1x512+1536"], [], False),
    ([], ["1x512"], True),
    ([], ["1x2048"], True),
    ([], ["8x512"], True),
    ([], ["8x2048"], True),
    ([], ["32x512"], True),
    ([], ["32x2048"], True),
    ([], ["64x512"], True),
    ([], ["64x2048"], True),
    ([], ["1x512"], False),
    ([], ["8x1024"], False),
    ([], ["32x2048"], False),
    ([], ["64x512"], False),
    ([], ["128x512"], True),
    (["1x128"], [], False),
    (["8x512"], [], False),
    (["1x512"], ["16x1024"], False),
    (["1x1024"], ["32x2048"], False),
    (["2x256+512"], ["64x512"], False),
]

DRY_CASES = [
    (["1x8"], [], False),
    (["2x4+4"], [], False),
    ([], ["4x16"], False),
    (["1x8"], ["2x16"], False),
]


def parse_prefill(s):
    b, rest = s.split("x")
    if "+" in rest:
        n, p = rest.split("+")
    else:
        n, p = rest, "0"
    return int(b), int(n), int(p)


def parse_decode(s):
    b, c = s.split("x")
    return int(b), int(c)


class Llama(torch.nn.Module):
    def __init__(self, cfg, dtype, device, max_ctx):
        super().__init__()
        self.cfg = cfg
        h, nh, kv = cfg["hidden"], cfg["heads"], cfg["kv_heads"]
        self.hd = h // nh
        std = 0.02

        def w(*shape):
            return torch.randn(*shape, dtype=dtype, device=device) * std

        self.emb = w(cfg["vocab"], h)
        self.layers = []
        for _ in range(cfg["layers"]):
            self.layers.append(dict(
                n1=torch.ones(h, dtype=dtype, device=device),
                qkv=w((nh + 2 * kv) * self.hd, h),
                o=w(h, nh * self.hd),
                n2=torch.ones(h, dtype=dtype, device=device),
                gu=w(2 * cfg["inter"], h),
                down=w(h, cfg["inter"]),
            ))
        self.norm = torch.ones(h, dtype=dtype, device=device)
        self.head = w(cfg["vocab"], h)
        inv = 1.0 / (cfg["theta"] ** (torch.arange(0, self.hd, 2, device=device, dtype=torch.float32) / self.hd))
        pos = torch.arange(max_ctx, device=device, dtype=torch.float32)
        ang = torch.outer(pos, inv)
        self.cos = torch.cos(ang).to(dtype)
        self.sin = torch.sin(ang).to(dtype)

    @staticmethod
    def rms(x, w):
        # Fused where PyTorch has it (as serving engines fuse RMSNorm); composite otherwise.
        if hasattr(F, "rms_norm"):
            return F.rms_norm(x, (x.shape[-1],), w, 1e-5)
        var = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(var + 1e-5)).to(x.dtype) * w

    def rope(self, x, pos):
        # x: (tokens, heads, hd); pos: (tokens,)
        c = self.cos[pos].unsqueeze(1)
        s = self.sin[pos].unsqueeze(1)
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2:]
        return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)

    def forward(self, ids, pos, groups, caches, last_idx):
        """ids, pos: (T,) token ids and positions; groups: list of (kind, start, batch, new,
        past) slices of the token axis; caches[layer][group] = (k, v) of shape
        (batch, kv_heads, past + new, hd)."""
        cfg = self.cfg
        nh, kv, hd = cfg["heads"], cfg["kv_heads"], self.hd
        x = F.embedding(ids, self.emb)
        for li, L in enumerate(self.layers):
            hN = self.rms(x, L["n1"])
            qkv = hN @ L["qkv"].t()
            q = qkv[:, : nh * hd].view(-1, nh, hd)
            k = qkv[:, nh * hd: (nh + kv) * hd].view(-1, kv, hd)
            v = qkv[:, (nh + kv) * hd:].view(-1, kv, hd)
            q = self.rope(q, pos)
            k = self.rope(k, pos)
            outs = []
            for gi, (kind, start, b, new, past) in enumerate(groups):
                kc, vc = caches[li][gi]
                n = b * new
                qg = q[start:start + n].view(b, new, nh, hd).transpose(1, 2)
                kg = k[start:start + n].view(b, new, kv, hd).transpose(1, 2)
                vg = v[start:start + n].view(b, new, kv, hd).transpose(1, 2)
                kc[:, :, past:past + new].copy_(kg)
                vc[:, :, past:past + new].copy_(vg)
                kk, vv = kc[:, :, : past + new], vc[:, :, : past + new]
                if kind == "prefill" and past == 0:
                    o = F.scaled_dot_product_attention(qg, kk, vv, is_causal=True, enable_gqa=True)
                elif kind == "prefill":
                    from torch.nn.attention.bias import causal_lower_right

                    rep = nh // kv  # CausalBias does not take enable_gqa: expand the KV heads
                    o = F.scaled_dot_product_attention(
                        qg, kk.repeat_interleave(rep, 1), vv.repeat_interleave(rep, 1),
                        attn_mask=causal_lower_right(new, past + new))
                else:
                    o = F.scaled_dot_product_attention(qg, kk, vv, enable_gqa=True)
                outs.append(o.transpose(1, 2).reshape(n, nh * hd))
            a = torch.cat(outs, 0) if len(outs) > 1 else outs[0]
            x = x + a @ L["o"].t()
            hN = self.rms(x, L["n2"])
            gu = hN @ L["gu"].t()
            i = cfg["inter"]
            x = x + (F.silu(gu[:, :i]) * gu[:, i:]) @ L["down"].t()
        x = self.rms(x[last_idx], self.norm)
        logits = x @ self.head.t()
        return torch.argmax(logits, dim=-1)


def build_inputs(model, prefill, decode, device):
    cfg = model.cfg
    groups, ids, pos, caches_spec, last = [], [], [], [], []
    start = 0
    for b, n, p in prefill:
        groups.append(("prefill", start, b, n, p))
        for _ in range(b):
            pos.append(torch.arange(p, p + n, device=device))
        start += b * n
        last.extend(groups[-1][1] + (j + 1) * n - 1 for j in range(b))
        caches_spec.append((b, p + n))
    for b, c in decode:
        groups.append(("decode", start, b, 1, c - 1))
        pos.append(torch.full((b,), c - 1, device=device, dtype=torch.long))
        last.extend(start + j for j in range(b))
        start += b
        caches_spec.append((b, c))
    T = start
    ids = torch.randint(0, cfg["vocab"], (T,), device=device)
    pos = torch.cat(pos).long()
    dtype = model.emb.dtype
    caches = []
    for _ in range(cfg["layers"]):
        caches.append([
            (torch.randn(b, cfg["kv_heads"], ctx, model.hd, dtype=dtype, device=device),
             torch.randn(b, cfg["kv_heads"], ctx, model.hd, dtype=dtype, device=device))
            for b, ctx in caches_spec
        ])
    return ids, pos, groups, caches, torch.tensor(last, device=device, dtype=torch.long)


def kv_cache_bytes(model, prefill, decode):
    cfg = model.cfg
    tokens = sum(b * (n + p) for b, n, p in prefill) + sum(b * c for b, c in decode)
    return cfg["layers"] * 2 * tokens * cfg["kv_heads"] * model.hd * model.emb.element_size()


def time_case(model, prefill, decode, graphs, device, reps):
    if device == "cuda":
        free, _ = torch.cuda.mem_get_info()
        need = kv_cache_bytes(model, prefill, decode)
        if need > 0.7 * free:
            raise RuntimeError("KV cache of %.1f GB does not fit in %.1f GB free" % (need / 1e9, free / 1e9))
    ids, pos, groups, caches, last = build_inputs(model, prefill, decode, device)
    fn = lambda: model.forward(ids, pos, groups, caches, last)  # noqa: E731
    if device != "cuda":
        fn()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e3
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    run = capture_graph(fn).replay if graphs else fn
    for _ in range(2):
        run()
    torch.cuda.synchronize()
    ms = median_ms(run, reps)
    del caches
    return ms


def capture_graph(fn):
    """Warm ``fn`` up on a side stream, then capture one call in a CUDA graph."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g


def median_ms(run, reps):
    """Median over ``reps`` calls of ``run``, each timed with CUDA events, in milliseconds."""
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        run()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(prog="parallax_profiler.iterations", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--model", default=None, help="comma-separated: llama-3.1-8b (default), llama-2-7b, qwen2.5-7b, tiny-llama")
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny model, fp32")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--budget-s", type=float, default=200.0, help="stop starting new cases after this many seconds")
    args = p.parse_args(argv)
    started = time.time()
    if args.dry_run:
        device, dtype, model_name = "cpu", torch.float32, args.model or "tiny-llama"
        cases, reps, gpu = DRY_CASES, args.reps or 2, "cpu-dry-run"
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device visible: use --dry-run on a CPU")
        device, dtype, model_name = "cuda", torch.bfloat16, args.model or "llama-3.1-8b"
        cases, reps = DEFAULT_CASES, args.reps or 10
        gpu = gpu_catalog_name(torch.cuda.get_device_name(0))
    names = [n for n in model_name.split(",") if n]
    for n in names:
        if n not in CONFIGS:
            raise SystemExit("unknown model %r: expected one of %s" % (n, ", ".join(CONFIGS)))
    with open(args.out, "w") as f:
        f.write("model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n")
        for name in names:
            if time.time() - started > args.budget_s:
                print("time budget reached; skipping model %s" % name, file=sys.stderr)
                continue
            torch.manual_seed(0)
            t0 = time.time()
            model = Llama(CONFIGS[name], dtype, device, max_ctx=4096)
            print("model %s built in %.1f s" % (name, time.time() - t0), file=sys.stderr)
            for pre, dec, graphs in cases:
                if time.time() - started > args.budget_s:
                    print("time budget reached; skipping the remaining cases", file=sys.stderr)
                    break
                try:
                    ms = time_case(model, [parse_prefill(x) for x in pre], [parse_decode(x) for x in dec], graphs, device, reps)
                except Exception as e:  # report and go on: one failing case must not lose the others
                    print("case %s %s graphs=%s failed: %s" % (pre, dec, graphs, e), file=sys.stderr)
                    continue
                row = "%s,%s,1,%s,%s,%s,%.4f" % (name, gpu, " ".join(pre), " ".join(dec), "on" if graphs else "off", ms)
                print(row, file=sys.stderr)
                f.write(row + "\n")
                f.flush()
            del model
            if device == "cuda":
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
