#!/usr/bin/env bash
# One-shot GPU validation of the Parallax profiler (run once on an H100/H200; about 8 minutes).
#
#   OUT=/some/dir bash profiler/device_check.sh
#
# Writes under $OUT:
#   profile.json     the profiler's tables (quick mode), Parallax profile format v1
#   measured.csv     whole-model Llama-3.1-8B iterations (docs/measured-format.md)
#   env.txt, *.log   nvidia-smi, versions, and each step's output
# Each step has its own time limit; a failing step does not stop the next one.
set -uo pipefail
OUT="${OUT:-/tmp/parallax-device-check}"
mkdir -p "$OUT"
HERE="$(cd "$(dirname "$0")" && pwd)"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
{
  date -u +%FT%TZ
  nvidia-smi || true
  python3 -c 'import torch, sys; print("python", sys.version.split()[0]); print("torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())'
} > "$OUT/env.txt" 2>&1
timeout 270 python3 -m parallax_profiler --quick --name "$(python3 -c 'import torch; from parallax_profiler.profile import gpu_catalog_name as g; print(g(torch.cuda.get_device_name(0)).lower())')-pytorch-quick" --out "$OUT/profile.json" > "$OUT/profiler.log" 2>&1
echo "profiler exit $?" >> "$OUT/env.txt"
timeout 200 python3 -m parallax_profiler.iterations --out "$OUT/measured.csv" --budget-s 170 > "$OUT/iterations.log" 2>&1
echo "iterations exit $?" >> "$OUT/env.txt"
tail -n 3 "$OUT/profiler.log" "$OUT/iterations.log"
cat "$OUT/measured.csv" 2>/dev/null
exit 0
