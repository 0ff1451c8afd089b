"""Parallax GPU profiler: measures one GPU's operator tables in the Parallax profile format.

Usage: ``python3 -m parallax_profiler --out FILE [--dry-run] [--quick]``.
See ``docs/profile-format.md`` in the repository for the format.
"""

FORMAT_VERSION = 1
__all__ = ["FORMAT_VERSION"]
