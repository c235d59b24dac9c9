"""Keep freed tensor memory in the process instead of handing it back to the OS after every update (glibc only).

A Dreamer update allocates and frees activation buffers of 25-100 MB many times. glibc's default ``malloc``
serves each of them with a fresh ``mmap`` and returns it with ``munmap``, so every update pays page faults for
gigabytes of memory the process had a moment ago. On a 2-core VM that was system time of about half the update:
a pixel world-model update at the DreamerV3 ``XS`` size took 3.6 s of CPU time with glibc's defaults and 2.5 s
with the settings below (``benchmarks/results/update_speed.json``).

:func:`tune_malloc` applies, through ``mallopt``, what the environment variables
``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<huge> MALLOC_TOP_PAD_=1073741824`` would do: serve large blocks
from the heap, never trim it, grow it 1 GiB at a time. :class:`~twist_agents.dreamer.world_model.WorldModel`
calls it when it is built, i.e. before an update's first large allocation, so every user of the library
and of the ``twist`` CLI gets it without touching the shell.

The cost is memory: the process keeps its peak heap (it never shrinks back) plus up to 1 GiB of reserve
that is mapped but untouched until needed, so the resident size stays near the peak of the largest update
instead of falling back between updates. Measured numbers are in the README's "Update speed" section.

Opt out with ``TWIST_TUNE_MALLOC=0``. Nothing is changed on non-glibc systems (macOS, Windows, musl), or
when the user has set glibc's ``MALLOC_*_`` variables or ``glibc.malloc`` tunables themselves (their
choice wins).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys

OPT_OUT_VARIABLE = "TWIST_TUNE_MALLOC"
"""Environment variable: ``0`` (or ``false``/``no``/``off``) leaves glibc's allocator at its defaults."""

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

TOP_PAD_BYTES = 1 << 30
"""Extra heap reserved on each growth (1 GiB): mapped, but resident only once touched."""

_GLIBC_VARIABLES = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")


@functools.cache
def tune_malloc() -> bool:
    """Make glibc keep freed memory for reuse (see the module docstring); idempotent and cheap after the first call.

    Returns:
        ``True`` if the settings are in effect, ``False`` if skipped (opted out, not glibc, the user's own
        ``MALLOC_*_`` variables are set, or ``mallopt`` refused).

    Example:
        >>> isinstance(tune_malloc(), bool)
        True
    """
    if os.environ.get(OPT_OUT_VARIABLE, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    if any(v in os.environ for v in _GLIBC_VARIABLES) or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success. Order matters little; disabling mmap first keeps the next big block on the heap.
    ok = mallopt(_M_MMAP_MAX, 0) == 1
    ok &= mallopt(_M_TRIM_THRESHOLD, -1) == 1  # -1: never trim (mallopt(3))
    ok &= mallopt(_M_TOP_PAD, TOP_PAD_BYTES) == 1
    return bool(ok)
