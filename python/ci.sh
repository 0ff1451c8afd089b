#!/usr/bin/env bash
# Build the `parallax-plan` Python package into a fresh virtual environment and run its
# pytest suite. Needs python3 (>= 3.8) with venv, a Rust toolchain, and PyPI for maturin,
# pytest and pandas. Exits non-zero when the build or any test fails, or when no test ran.
#
#   bash python/ci.sh            # from the repository root (or anywhere)
#
# Environment: PARALLAX_PY_VENV (default: target/python-venv), PYTHON (default: python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
py="${PYTHON:-python3}"
venv="${PARALLAX_PY_VENV:-$root/target/python-venv}"

# Share the workspace's target directory so a rebuild reuses compiled crates.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

"$py" -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "maturin>=1.5,<2" pytest pandas
# --no-build-isolation: build with the maturin installed above (no second download).
python -m pip install --quiet --no-build-isolation --force-reinstall --no-deps "$here"

# From inside tests/ with the `pytest` entry point: the source tree's parallax/ must not
# shadow the installed package (python -m would put the working directory on sys.path).
cd "$here/tests"
set +e
pytest -q -p no:cacheprovider .
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "python/ci.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
