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
    return gemm, prefill, decode, elementwise


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
}


def run(args):
    started = time.time()
    today = datetime.date.today().isoformat()
    overheads = {}
    collective = []
    if args.dry_run and torch is None:
        gemm, prefill, decode, elementwise = _py_tables()
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
        t0 = time.time()
        gemm = measure_gemm(timer, device, dtype, dname, shapes, ms)
        print("gemm: %d rows in %.1f s" % (len(gemm), time.time() - t0), file=sys.stderr)
        t0 = time.time()
        prefill = measure_prefill(timer, device, dtype, dname, heads, pcases)
        decode = measure_decode(timer, device, dtype, dname, heads, dcases)
        print("attention: %d rows in %.1f s" % (len(prefill) + len(decode), time.time() - t0), file=sys.stderr)
        elementwise = measure_elementwise(timer, device, dtype, *ecfg)
        flops, bw = measure_ceilings(device, dtype, args.quick)
        overheads["kernel_launch_seconds"] = measure_launch(device)
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
                  "GEMM torch.matmul, attention F.scaled_dot_product_attention (causal; prefix via causal_lower_right), "
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
