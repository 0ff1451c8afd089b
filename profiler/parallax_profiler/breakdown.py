"""Where one iteration's time goes: host issue time, GPU kernel time by category, graph time.

``python3 -m parallax_profiler.breakdown --out breakdown.json [--model llama-3.1-8b]``

For each case (the same batch specs as ``iterations.py``) it records:

- ``eager_ms``: the iteration as ``iterations.py`` times it (CUDA events, eager, median);
- ``graph_ms``: the same forward captured in a CUDA graph and replayed (pure device time:
  kernels back to back, no host in the loop);
- ``host_issue_ms``: host wall time of one eager forward call without synchronising (how
  long the CPU takes to issue every kernel when the GPU never makes it wait);
- ``kernels``, ``busy_ms`` and ``by_category``: from one eager iteration under
  ``torch.profiler``: the device kernels, their summed time, by category (gemm, attention,
  norm, copy/cat, index, other elementwise), and the top kernels.

It explains measured iterations (``docs/measured-format.md``); nothing here is fed to a model.
"""

import argparse
import collections
import json
import statistics
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

from .iterations import (
    CONFIGS,
    Llama,
    build_inputs,
    capture_graph,
    median_ms,
    parse_decode,
    parse_prefill,
)

CASES = [
    (["4x1024"], []),
    (["1x2048"], []),
    (["1x512"], []),
    (["1x128"], []),
    (["1x512+1536"], []),
    ([], ["1x512"]),
    ([], ["64x512"]),
    ([], ["32x2048"]),
    (["1x512"], ["16x1024"]),
]


def category(name):
    n = name.lower()
    if any(s in n for s in ("gemm", "nvjet", "cutlass", "cublas", "gemv", "sm90_xmma", "splitk")):
        return "gemm"
    if any(s in n for s in ("flash", "fmha", "attention", "attn")):
        return "attention"
    if "norm" in n:
        return "norm"
    if "cat" in n or "copy" in n:
        return "copy"
    if "index" in n or "gather" in n or "embedding" in n:
        return "index"
    if "reduce" in n or "argmax" in n:
        return "reduce"
    return "elementwise"


def kernel_events(prof):
    out = []
    for e in prof.events():
        if str(getattr(e, "device_type", "")).endswith("CUDA"):
            t = getattr(e, "device_time", None)
            if t is None:
                t = getattr(e, "cuda_time", 0.0)
            out.append((e.name, float(t)))
    return out


def run_case(model, pre, dec, reps):
    ids, pos, groups, caches, last = build_inputs(
        model, [parse_prefill(x) for x in pre], [parse_decode(x) for x in dec], "cuda")
    fn = lambda: model.forward(ids, pos, groups, caches, last)  # noqa: E731
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    eager = median_ms(fn, reps)
    host = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        host.append((time.perf_counter() - t0) * 1e3)
        torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    ks = kernel_events(prof)
    cats = collections.defaultdict(lambda: [0, 0.0])
    names = collections.defaultdict(lambda: [0, 0.0])
    for n, t in ks:
        c = cats[category(n)]
        c[0] += 1
        c[1] += t / 1e3
        m = names[n[:90]]
        m[0] += 1
        m[1] += t / 1e3
    top = sorted(names.items(), key=lambda kv: -kv[1][1])[:25]
    graph = None
    try:
        g = capture_graph(fn)
        for _ in range(2):
            g.replay()
        torch.cuda.synchronize()
        graph = median_ms(g.replay, reps)
        del g
    except Exception as e:  # report and go on
        print("graph capture failed for %s %s: %s" % (pre, dec, e), file=sys.stderr)
    del caches
    return {
        "prefill": " ".join(pre), "decode": " ".join(dec),
        "eager_ms": eager, "graph_ms": graph, "host_issue_ms": statistics.median(host),
        "kernels": len(ks), "busy_ms": sum(t for _, t in ks) / 1e3,
        "by_category": {k: {"kernels": v[0], "ms": round(v[1], 4)} for k, v in sorted(cats.items())},
        "top": [{"name": n, "count": v[0], "ms": round(v[1], 4)} for n, v in top],
    }


def main(argv=None):
    p = argparse.ArgumentParser(prog="parallax_profiler.breakdown", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="llama-3.1-8b")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--budget-s", type=float, default=150.0)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("breakdown needs a CUDA device")
    started = time.time()
    torch.manual_seed(0)
    model = Llama(CONFIGS[args.model], torch.bfloat16, "cuda", max_ctx=4096)
    rows = []
    for pre, dec in CASES:
        if time.time() - started > args.budget_s:
            print("time budget reached", file=sys.stderr)
            break
        try:
            r = run_case(model, pre, dec, args.reps)
        except Exception as e:
            print("case %s %s failed: %s" % (pre, dec, e), file=sys.stderr)
            continue
        r["model"] = args.model
        r["gpu"] = torch.cuda.get_device_name(0)
        print(json.dumps({k: v for k, v in r.items() if k != "top"}), file=sys.stderr)
        rows.append(r)
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
