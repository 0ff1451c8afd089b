#!/usr/bin/env bash
# One-shot GPU validation of the Parallax profiler (run once on an H100/H200; about 6 minutes).
#
#   OUT=/some/dir bash profiler/device_check.sh [--quick]
#
# Writes under $OUT:
#   profile.json     the profiler's tables, Parallax profile format v1
#   measured.csv     whole-model iterations of Llama-3.1-8B, Llama-2-7B and Qwen2.5-7B shapes
#                    (docs/measured-format.md)
#   env.txt, *.log   nvidia-smi, versions, and each step's output
# Each step has its own time limit; a failing step does not stop the next one.
set -uo pipefail
OUT="${OUT:-/tmp/parallax-device-check}"
QUICK="${1:-}"
mkdir -p "$OUT"
HERE="$(cd "$(dirname "$0")" && pwd)"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
{
  date -u +%FT%TZ
  nvidia-smi || true
  python3 -c 'import torch, sys; print("python", sys.version.split()[0]); print("torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())'
} > "$OUT/env.txt" 2>&1
NAME="$(python3 -c 'import torch; from parallax_profiler.profile import gpu_catalog_name as g; print(g(torch.cuda.get_device_name(0)).lower())')-pytorch"
timeout 240 python3 -m parallax_profiler $QUICK --name "$NAME" --out "$OUT/profile.json" > "$OUT/profiler.log" 2>&1
echo "profiler exit $?" >> "$OUT/env.txt"
timeout 230 python3 -m parallax_profiler.iterations --model llama-3.1-8b,llama-2-7b,qwen2.5-7b --out "$OUT/measured.csv" --budget-s 200 > "$OUT/iterations.log" 2>&1
echo "iterations exit $?" >> "$OUT/env.txt"
tail -n 5 "$OUT/profiler.log" "$OUT/iterations.log"
cat "$OUT/measured.csv" 2>/dev/null
exit 0
