"""Measure GEMM, attention, elementwise and collective tables and write a Parallax profile.

Timing (GPU): each op is run a few times to warm up, then ``reps`` times; each repetition is
timed with CUDA events around one call, after flushing the L2 cache by writing a 256 MiB
buffer; the recorded time is the median, in seconds.

``--dry-run`` runs on the CPU with tiny shapes (with PyTorch if it is installed, else a
pure-Python timer over list arithmetic) and writes a valid file whose numbers mean nothing
about any GPU; CI uses it to check that the profiler and the Rust loader agree on the format.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

from . import FORMAT_VERSION

try:  # PyTorch is optional for --dry-run only.
    import torch
    import torch.nn.functional as F
except Exception:  # pragma: no cover - depends on the machine
    torch = None
    F = None

# Llama-family layer shapes (n, k): Llama-3.1-8B and Llama-3.1-70B split for TP 1/2/4/8.
def llama_gemm_shapes(quick):
    shapes = set()
    models = [(4096, 32, 8, 14336)] + [(8192, 64, 8, 28672)]
    tps = {4096: [1], 8192: [1, 2, 4, 8] if not quick else [1, 8]}
    for hidden, heads, kv, inter in models:
        hd = hidden // heads
        for tp in tps[hidden]:
            shapes.add(((heads + 2 * kv) * hd // tp, hidden))  # qkv
            shapes.add((hidden, heads * hd // tp))  # o
            shapes.add((2 * inter // tp, hidden))  # gate_up
            shapes.add((hidden, inter // tp))  # down
    return sorted(shapes)


M_FULL = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
M_QUICK = [1, 4, 16, 64, 128, 256, 512, 1024, 2048, 4096, 16384]


class Timer:
    """Times a callable on the GPU (CUDA events, L2 flush) or on the CPU (perf_counter)."""

    def __init__(self, device, reps, warmup=2):
        self.device = device
        self.reps = reps
        self.warmup = warmup
        self.flush = None
        if device == "cuda":
            self.flush = torch.empty(256 * 1024 * 1024 // 4, dtype=torch.float32, device="cuda")

    def __call__(self, fn):
        for _ in range(self.warmup):
            fn()
        times = []
        if self.device == "cuda":
            torch.cuda.synchronize()
            for _ in range(self.reps):
                self.flush.zero_()
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) * 1e-3)
        else:
            for _ in range(self.reps):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        return max(statistics.median(times), 1e-9)


# ---------------------------------------------------------------------------------------------
# Pure-Python fallback (dry run without PyTorch).


def _py_time(fn, reps=3):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return max(statistics.median(times), 1e-9)


def _py_tables():
    def matmul(m, n, k):
        a = [[1.0] * k for _ in range(m)]
        b = [[1.0] * n for _ in range(k)]
        return [[sum(a[i][p] * b[p][j] for p in range(k)) for j in range(n)] for i in range(m)]

    gemm = []
    for n, k in [(8, 8), (16, 8)]:
        for m in [1, 2, 4, 8]:
            gemm.append([m, n, k, "fp32", _py_time(lambda: matmul(m, n, k))])

    def attention(q_len, kv_len, heads, dim):
        q = [[0.5] * dim for _ in range(q_len)]
        k = [[0.5] * dim for _ in range(kv_len)]
        out = 0.0
        for _ in range(heads):
            for i in range(q_len):
                scores = [sum(a * b for a, b in zip(q[i], k[j])) for j in range(kv_len)]
                mx = max(scores)
                out += sum(math.exp(s - mx) for s in scores)
        return out

    prefill = []
    for s in [4, 8, 16]:
        prefill.append([1, s, 0, 2, 1, 8, "fp32", _py_time(lambda: attention(s, s, 2, 8))])
    decode = []
    for b, c in [(1, 8), (2, 16), (4, 32)]:
        decode.append([b, c, 2, 1, 8, "fp32", _py_time(lambda: [attention(1, c, 2, 8) for _ in range(b)])])
    elementwise = []
    for kind in ["norm", "activation", "residual"]:
        for n in [64, 256, 1024]:
            data = [1.0] * n
            elementwise.append([kind, 8 * n, _py_time(lambda: [x * 1.5 + 1.0 for x in data])])

    def moe(tokens, experts, top_k, hidden, inter):
        # Reference loop: route token t to experts (t + j) % experts, run each expert's rows.
        rows = {}
        for t in range(tokens):
            for j in range(top_k):
                rows.setdefault((t + j) % experts, []).append(t)
        for e, ts in rows.items():
            matmul(len(ts), 2 * inter, hidden)
            matmul(len(ts), hidden, inter)

    fused_moe = []
    for tokens in [1, 4, 16]:
        fused_moe.append([tokens, 4, 2, 8, 8, "fp32", _py_time(lambda: moe(tokens, 4, 2, 8, 8))])
    return gemm, prefill, decode, elementwise, fused_moe


# ---------------------------------------------------------------------------------------------
# PyTorch measurements.


def measure_gemm(timer, device, dtype, dname, shapes, ms):
    rows = []
    for n, k in shapes:
        w = torch.randn(k, n, device=device, dtype=dtype)
        for m in ms:
            x = torch.randn(m, k, device=device, dtype=dtype)
            rows.append([m, n, k, dname, timer(lambda: torch.matmul(x, w))])
            del x
        del w
    return rows


def measure_gemm_fp8(timer, shapes, ms):
    """fp8 (e4m3) W8A8 GEMMs with per-tensor scales through ``torch._scaled_mm`` (the kernel
    path vLLM's fp8 linear layers use on Hopper without CUTLASS); rows of dtype ``fp8``.
    Returns [] when this PyTorch or GPU has no fp8 scaled matmul."""
    f8 = getattr(torch, "float8_e4m3fn", None)
    mm = getattr(torch, "_scaled_mm", None)
    if f8 is None or mm is None:
        return []
    one = torch.ones((), device="cuda", dtype=torch.float32)
    rows = []
    try:
        for n, k in shapes:
            # _scaled_mm wants the second operand column-major: transpose of a row-major (n, k).
            w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16).to(f8).t()
            for m in ms:
                if m % 16 != 0 and m > 1:
                    continue
                mm_rows = max(m, 16)  # fp8 matmul needs dimensions divisible by 16
                x = torch.randn(mm_rows, k, device="cuda", dtype=torch.bfloat16).to(f8)
                t = timer(lambda: mm(x, w, scale_a=one, scale_b=one, out_dtype=torch.bfloat16))
                rows.append([mm_rows, n, k, "fp8", t])
                del x
            del w
    except Exception as e:  # pragma: no cover - depends on the GPU and PyTorch build
        print("fp8 GEMMs skipped: %s" % e, file=sys.stderr)
        return []
    # Several m may round up to 16: keep the first time of each (m, n, k).
    seen = set()
    out = []
    for r in rows:
        key = (r[0], r[1], r[2])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _fused_moe_kernel():
    """vLLM's fused MoE (Triton grouped GEMM) if importable: (callable, label)."""
    try:
        from vllm.model_executor.layers.fused_moe import fused_experts  # type: ignore

        return fused_experts, "vllm fused_experts (Triton grouped GEMM)"
    except Exception:
        return None, "torch reference loop (per-expert torch.matmul; NOT a fused kernel: slower than engines)"


def measure_fused_moe(timer, device, dtype, dname, cfgs, tokens_list):
    """The routed experts of one MoE layer: tokens routed uniformly at random to top_k of
    ``experts`` experts; rows [tokens, experts, top_k, hidden, intermediate, dtype, seconds].
    Returns (rows, label of the kernel used)."""
    fused, label = _fused_moe_kernel() if device == "cuda" else (None, "torch reference loop on CPU")
    rows = []
    for experts, top_k, hidden, inter in cfgs:
        w13 = torch.randn(experts, 2 * inter, hidden, device=device, dtype=dtype) * 0.02
        w2 = torch.randn(experts, hidden, inter, device=device, dtype=dtype) * 0.02
        for t in tokens_list:
            x = torch.randn(t, hidden, device=device, dtype=dtype)
            logits = torch.randn(t, experts, device=device, dtype=torch.float32)
            weights, ids = torch.topk(torch.softmax(logits, -1), top_k, dim=-1)
            if fused is not None:
                fn = lambda: fused(x, w13, w2, weights, ids.to(torch.int32))  # noqa: E731
            else:

                def fn():
                    out = torch.zeros_like(x)
                    flat = ids.reshape(-1)
                    tok = torch.arange(t, device=device).repeat_interleave(top_k)
                    wts = weights.reshape(-1, 1).to(dtype)
                    for e in torch.unique(flat).tolist():
                        sel = flat == e
                        rows_e = tok[sel]
                        h = x.index_select(0, rows_e) @ w13[e].t()
                        a = F.silu(h[:, :inter]) * h[:, inter:]
                        out.index_add_(0, rows_e, (a @ w2[e].t()) * wts[sel])
                    return out

            rows.append([t, experts, top_k, hidden, inter, dname, timer(fn)])
            del x, logits, weights, ids
        del w13, w2
    return rows, label


def measure_graph_launch(n=1000):
    """Device time per tiny kernel replayed from a CUDA graph (seconds), or None."""
    try:
        x = torch.zeros(1, device="cuda")
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                x.add_(1)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(n):
                x.add_(1)
        g.replay()
        torch.cuda.synchronize()
        reps = 10
        t0 = time.perf_counter()
        for _ in range(reps):
            g.replay()
        torch.cuda.synchronize()
        return (time.perf_counter() - t0) / (reps * n)
    except Exception as e:  # pragma: no cover - depends on the GPU
        print("graph launch measurement skipped: %s" % e, file=sys.stderr)
        return None


def _causal_bias(q_len, kv_len, device):
    """Lower-right causal bias for a chunk after a prefix, or None when not supported."""
    try:
        from torch.nn.attention.bias import causal_lower_right

        return causal_lower_right(q_len, kv_len)
    except Exception:
        return None


def sdpa(q, k, v, causal, bias=None):
    kw = {}
    if q.shape[1] != k.shape[1]:
        kw["enable_gqa"] = True
    if bias is not None:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, **kw)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, **kw)


def measure_prefill(timer, device, dtype, dname, head_cfgs, cases):
    rows = []
    for heads, kv, hd in head_cfgs:
        for batch, new, prefix in cases:
            q = torch.randn(batch, heads, new, hd, device=device, dtype=dtype)
            k = torch.randn(batch, kv, prefix + new, hd, device=device, dtype=dtype)
            v = torch.randn_like(k)
            bias = _causal_bias(new, prefix + new, device) if prefix > 0 else None
            if prefix > 0 and bias is None:
                continue
            if bias is not None and heads != kv:
                # CausalBias does not take enable_gqa: expand the KV heads outside the timing.
                k = k.repeat_interleave(heads // kv, 1)
                v = v.repeat_interleave(heads // kv, 1)
            rows.append([batch, new, prefix, heads, kv, hd, dname, timer(lambda: sdpa(q, k, v, True, bias))])
            del q, k, v
    return rows


def measure_decode(timer, device, dtype, dname, head_cfgs, cases):
    rows = []
    for heads, kv, hd in head_cfgs:
        for batch, ctx in cases:
            q = torch.randn(batch, heads, 1, hd, device=device, dtype=dtype)
            k = torch.randn(batch, kv, ctx, hd, device=device, dtype=dtype)
            v = torch.randn_like(k)
            rows.append([batch, ctx, heads, kv, hd, dname, timer(lambda: sdpa(q, k, v, False))])
            del q, k, v
    return rows


def measure_elementwise(timer, device, dtype, hidden, tokens_list, inter):
    """Bytes = bytes read + written (the convention of parallax_ir::Elementwise::bytes)."""
    b = torch.tensor([], dtype=dtype).element_size()
    rows = []
    for t in tokens_list:
        x = torch.randn(t, hidden, device=device, dtype=dtype)
        r = torch.randn_like(x)
        w = torch.ones(hidden, device=device, dtype=dtype)

        def rms():
            var = x.float().pow(2).mean(-1, keepdim=True)
            return (x.float() * torch.rsqrt(var + 1e-5)).to(dtype) * w

        norm = getattr(F, "rms_norm", None)
        fn = (lambda: norm(x, (hidden,), w, 1e-5)) if norm is not None else rms
        rows.append(["norm", b * (2 * t * hidden + hidden), timer(fn)])
        rows.append(["residual", b * 3 * t * hidden, timer(lambda: x + r)])
        gu = torch.randn(t, 2 * inter, device=device, dtype=dtype)
        rows.append(["activation", b * 3 * t * inter, timer(lambda: F.silu(gu[:, :inter]) * gu[:, inter:])])
        qk = torch.randn(t, hidden + hidden // 4, device=device, dtype=dtype)  # q and k (GQA 4:1)
        cos = torch.randn_like(qk)
        sin = torch.randn_like(qk)
        rows.append(["rotary", b * 2 * qk.numel(), timer(lambda: qk * cos + torch.roll(qk, 1, -1) * sin)])
        emb = torch.randn(32000, hidden, device=device, dtype=dtype)
        ids = torch.randint(0, 32000, (t,), device=device)
        rows.append(["embedding", b * 2 * t * hidden, timer(lambda: F.embedding(ids, emb))])
        del x, r, gu, qk, cos, sin, emb, ids
    return rows


def measure_ceilings(device, dtype, quick):
    n = 8192 if device == "cuda" else 64
    a = torch.randn(n, n, device=device, dtype=dtype)
    bmat = torch.randn(n, n, device=device, dtype=dtype)
    timer = Timer(device, 5 if quick else 10)
    t = timer(lambda: torch.matmul(a, bmat))
    flops = 2.0 * n ** 3 / t
    size = (2 * 1024 ** 3) if device == "cuda" else (4 * 1024 * 1024)
    src = torch.empty(size // 2, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    t = timer(lambda: dst.copy_(src))
    bw = 2.0 * src.numel() / t
    del a, bmat, src, dst
    return flops, bw


def measure_launch(device):
    """Host-side time per eagerly launched tiny kernel (seconds)."""
    x = torch.zeros(1, device=device)
    for _ in range(100):
        x.add_(1)
    if device == "cuda":
        torch.cuda.synchronize()
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        x.add_(1)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def _collective_worker(rank, world, port, sizes, q):
    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world)
    rows = []
    for nbytes in sizes:
        numel = max(nbytes // 2, world)
        numel -= numel % world
        buf = torch.randn(numel, device="cuda", dtype=torch.bfloat16)
        shard = torch.empty(numel // world, device="cuda", dtype=torch.bfloat16)
        out = torch.empty_like(buf)
        ops = {
            "all_reduce": lambda: dist.all_reduce(buf),
            "all_gather": lambda: dist.all_gather_into_tensor(out, shard),
            "reduce_scatter": lambda: dist.reduce_scatter_tensor(shard, buf),
            "all_to_all": lambda: dist.all_to_all_single(out, buf),
        }
        for name, fn in ops.items():
            for _ in range(3):
                fn()
            torch.cuda.synchronize()
            dist.barrier()
            times = []
            for _ in range(10):
                s = torch.cuda.Event(enable_timing=True)
                e = torch.cuda.Event(enable_timing=True)
                s.record()
                fn()
                e.record()
                e.synchronize()
                times.append(s.elapsed_time(e) * 1e-3)
            if rank == 0:
                rows.append([name, world, "intra", float(numel * 2), statistics.median(times)])
        if world == 2:
            times = []
            for _ in range(10):
                torch.cuda.synchronize()
                dist.barrier()
                s = torch.cuda.Event(enable_timing=True)
                e = torch.cuda.Event(enable_timing=True)
                s.record()
                if rank == 0:
                    dist.send(buf, 1)
                else:
                    dist.recv(buf, 0)
                e.record()
                e.synchronize()
                times.append(s.elapsed_time(e) * 1e-3)
            if rank == 0:
                rows.append(["send_recv", 2, "intra", float(numel * 2), statistics.median(times)])
        del buf, shard, out
    if rank == 0:
        q.put(rows)
    dist.destroy_process_group()


def measure_collectives(quick):
    import torch.multiprocessing as mp

    count = torch.cuda.device_count()
    sizes = [2 ** p for p in range(10, 29, 2 if quick else 1)]
    rows = []
    ctx = mp.get_context("spawn")
    for world in [w for w in (2, 4, 8) if w <= count]:
        q = ctx.SimpleQueue()
        port = 29500 + world
        procs = [ctx.Process(target=_collective_worker, args=(r, world, port, sizes, q)) for r in range(world)]
        for p in procs:
            p.start()
        got = q.get()
        for p in procs:
            p.join()
        rows.extend(got)
    return rows


def gpu_catalog_name(device_name):
    n = device_name.upper()
    if "H200" in n:
        return "H200"
    if "H100" in n:
        return "H100-PCIe" if "PCIE" in n else "H100-SXM"
    if "A100" in n:
        return "A100-80GB-SXM" if "80GB" in n else "A100-40GB-SXM"
    if "B200" in n:
        return "B200"
    if "L40S" in n:
        return "L40S"
    return device_name


def driver_version():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20,
        )
        v = out.stdout.strip().splitlines()
        return v[0].strip() if out.returncode == 0 and v else "unknown"
    except Exception:
        return "unknown"


def write_profile(path, doc):
    """Writes the profile JSON: one table row per line, like the Rust writer."""
    lines = ["{"]
    head = {k: doc[k] for k in ["format_version", "name", "gpu", "software", "provenance"]}
    if doc.get("overheads"):
        head["overheads"] = doc["overheads"]
    for k, v in head.items():
        lines.append("  %s: %s," % (json.dumps(k), json.dumps(v)))
    lines.append('  "tables": {')
    tables = [(k, v) for k, v in doc["tables"].items() if v["rows"]]
    for ti, (name, t) in enumerate(tables):
        lines.append("    %s: {" % json.dumps(name))
        for key in ("provenance", "software"):
            if key in t:
                lines.append("      %s: %s," % (json.dumps(key), json.dumps(t[key])))
        lines.append('      "columns": %s,' % json.dumps(t["columns"]))
        lines.append('      "rows": [')
        for ri, row in enumerate(t["rows"]):
            lines.append("        %s%s" % (json.dumps(row), "," if ri + 1 < len(t["rows"]) else ""))
        lines.append("      ]")
        lines.append("    }%s" % ("," if ti + 1 < len(tables) else ""))
    lines.append("  }")
    lines.append("}")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


COLUMNS = {
    "gemm": ["m", "n", "k", "dtype", "seconds"],
    "prefill_attention": ["batch", "new_tokens", "prefix", "heads", "kv_heads", "head_dim", "dtype", "seconds"],
    "decode_attention": ["batch", "context", "heads", "kv_heads", "head_dim", "dtype", "seconds"],
    "elementwise": ["kind", "bytes", "seconds"],
    "collective": ["op", "group_size", "scope", "bytes", "seconds"],
    "fused_moe": ["tokens", "experts", "top_k", "hidden", "intermediate", "dtype", "seconds"],
}

# Fused-MoE shapes (experts on one GPU, top_k, hidden, per-GPU intermediate): Qwen3-30B-A3B
# (TP1 and EP 4), Mixtral-8x7B (TP1), DeepSeek-V3 at EP 8 (32 local experts of 256).
MOE_CFGS = [(128, 8, 2048, 768), (32, 8, 2048, 768), (8, 2, 4096, 14336), (32, 8, 7168, 2048)]
MOE_TOKENS = [1, 4, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384]
MOE_TOKENS_QUICK = [1, 16, 64, 256, 1024, 8192]


def run(args):
    started = time.time()
    today = datetime.date.today().isoformat()
    overheads = {}
    collective = []
    moe_label = "pure-Python reference loop (dry run)"
    if args.dry_run and torch is None:
        gemm, prefill, decode, elementwise, fused_moe = _py_tables()
        gpu = {"name": "cpu-dry-run", "device": platform.processor() or platform.machine() or "cpu",
               "matmul_flops": 1e8, "memory_bandwidth": 1e9}
        software = {"torch": "none (pure-Python dry run)", "cuda": "none", "driver": "none"}
        method = "dry run: pure-Python list arithmetic timed with perf_counter, median of 3; meaningless for any GPU"
    else:
        if torch is None:
            raise SystemExit("PyTorch is required without --dry-run")
        device = "cpu" if args.dry_run else "cuda"
        if device == "cuda" and not torch.cuda.is_available():
            raise SystemExit("no CUDA device visible: use --dry-run on a CPU")
        dtype, dname = (torch.float32, "fp32") if args.dry_run else (torch.bfloat16, "bf16")
        reps = 3 if args.dry_run else (10 if args.quick else 25)
        timer = Timer(device, reps)
        if args.dry_run:
            shapes, ms = [(16, 16), (32, 16)], [1, 4, 16]
            heads = [(4, 2, 16)]
            pcases = [(1, 16, 0), (1, 64, 0), (2, 32, 0), (1, 16, 48)]
            dcases = [(1, 64), (4, 64), (8, 128)]
            ecfg = (64, [4, 16, 64], 128)
            moe_cfgs, moe_tokens = [(4, 2, 16, 16)], [1, 4, 16]
        else:
            shapes = llama_gemm_shapes(args.quick)
            ms = M_QUICK if args.quick else M_FULL
            heads = [(32, 8, 128), (64, 8, 128), (8, 1, 128)] if args.quick else \
                [(32, 8, 128), (64, 8, 128), (32, 4, 128), (16, 2, 128), (8, 1, 128)]
            seqs = [128, 512, 1024, 2048, 4096, 8192]
            pcases = [(1, s, 0) for s in seqs] + [(4, 1024, 0), (1, 512, 1536), (1, 1024, 3072)]
            bs = [1, 8, 32, 64, 128, 256]
            cs = [512, 1024, 2048, 8192] if not args.quick else [512, 2048, 8192]
            dcases = [(b, c) for b in bs for c in cs if b * c <= 256 * 2048]
            ecfg = (4096, [1, 16, 128, 1024, 4096, 16384], 14336)
            moe_cfgs = MOE_CFGS[:2] if args.quick else MOE_CFGS
            moe_tokens = MOE_TOKENS_QUICK if args.quick else MOE_TOKENS
        t0 = time.time()
        gemm = measure_gemm(timer, device, dtype, dname, shapes, ms)
        if device == "cuda":
            fp8 = measure_gemm_fp8(timer, shapes, ms)
            gemm += fp8
            print("fp8 gemm: %d rows" % len(fp8), file=sys.stderr)
        t0 = time.time()
        fused_moe, moe_label = measure_fused_moe(timer, device, dtype, dname, moe_cfgs, moe_tokens)
        print("fused moe (%s): %d rows in %.1f s" % (moe_label, len(fused_moe), time.time() - t0), file=sys.stderr)
        print("gemm: %d rows in %.1f s" % (len(gemm), time.time() - t0), file=sys.stderr)
        t0 = time.time()
        prefill = measure_prefill(timer, device, dtype, dname, heads, pcases)
        decode = measure_decode(timer, device, dtype, dname, heads, dcases)
        print("attention: %d rows in %.1f s" % (len(prefill) + len(decode), time.time() - t0), file=sys.stderr)
        elementwise = measure_elementwise(timer, device, dtype, *ecfg)
        flops, bw = measure_ceilings(device, dtype, args.quick)
        overheads["kernel_launch_seconds"] = measure_launch(device)
        if device == "cuda":
            g = measure_graph_launch()
            if g is not None:
                overheads["graph_kernel_seconds"] = g
        if device == "cuda":
            name = torch.cuda.get_device_name(0)
            gpu = {"name": gpu_catalog_name(name), "device": name, "matmul_flops": flops, "memory_bandwidth": bw}
            software = {"torch": torch.__version__, "cuda": str(torch.version.cuda), "driver": driver_version()}
            if torch.cuda.device_count() > 1 and not args.no_collectives:
                t0 = time.time()
                collective = measure_collectives(args.quick)
                print("collectives: %d rows in %.1f s" % (len(collective), time.time() - t0), file=sys.stderr)
        else:
            gpu = {"name": "cpu-dry-run", "device": platform.processor() or platform.machine() or "cpu",
                   "matmul_flops": flops, "memory_bandwidth": bw}
            software = {"torch": torch.__version__, "cuda": "none", "driver": "none"}
        method = ("CUDA events around one call, L2 flushed (256 MiB write) before each, median of %d after 2 warm-ups; "
                  "GEMM torch.matmul (fp8: torch._scaled_mm, per-tensor scales, bf16 out), attention F.scaled_dot_product_attention (causal; prefix via causal_lower_right), "
                  "elementwise torch ops; bytes = read + written" % reps)
        if args.dry_run:
            method = "dry run on CPU with tiny fp32 shapes (perf_counter, median of 3); meaningless for any GPU"
    doc = {
        "format_version": FORMAT_VERSION,
        "name": args.name,
        "gpu": gpu,
        "software": software,
        "provenance": {"source": "parallax_profiler (%s, python %s)" % (platform.node() or "host", platform.python_version()),
                       "date": today, "method": method},
        "overheads": overheads,
        "tables": {
            "gemm": {"columns": COLUMNS["gemm"], "rows": gemm},
            "prefill_attention": {"columns": COLUMNS["prefill_attention"], "rows": prefill},
            "decode_attention": {"columns": COLUMNS["decode_attention"], "rows": decode},
            "elementwise": {"columns": COLUMNS["elementwise"], "rows": elementwise},
            "fused_moe": {"columns": COLUMNS["fused_moe"], "rows": fused_moe,
                          "provenance": {"source": "parallax_profiler", "date": today,
                                         "method": "routed experts of one MoE layer, uniform random top-k routing; kernel: %s" % moe_label}},
            "collective": {"columns": COLUMNS["collective"], "rows": collective,
                           "provenance": {"source": "parallax_profiler torch.distributed NCCL", "date": today,
                                          "method": "rank-0 CUDA events around one call, median of 10, bf16 buffers"}},
        },
    }
    write_profile(args.out, doc)
    print("wrote %s in %.1f s" % (args.out, time.time() - started), file=sys.stderr)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="parallax_profiler", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="profile JSON to write")
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny shapes, no GPU needed")
    p.add_argument("--quick", action="store_true", help="fewer shapes and repetitions (about 3-4 minutes on an H100)")
    p.add_argument("--name", default=None, help="profile name (default: <gpu>-pytorch or dry-run)")
    p.add_argument("--no-collectives", action="store_true", help="skip NCCL collectives even with several GPUs")
    args = p.parse_args(argv)
    if args.name is None:
        args.name = "dry-run" if args.dry_run else "measured-pytorch"
    return run(args)
