"""Keep freed memory for reuse while the native solvers run (glibc only).

An interior-point iteration allocates and frees arrays of a few megabytes dozens of times.
Under glibc's default policy such arrays are mapped fresh from the kernel (above the
``mmap`` threshold) or the heap is trimmed back after they are freed, so every iteration
pays page faults on memory it had a moment before, in system time and in slower matrix
products.

:func:`tune_allocator` sets the two thresholds to the values glibc's own adaptive policy
reaches once a process has freed a 32 MiB block (``M_MMAP_THRESHOLD`` = 32 MiB, its
``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit systems, and ``M_TRIM_THRESHOLD`` twice that),
so at most 64 MiB of freed memory stays with the process instead of going back to the
kernel, and the page faults mostly go.

It runs once per process, at the first native solve, and does nothing when the C library
is not glibc, when the user already set ``MALLOC_MMAP_THRESHOLD_`` or
``MALLOC_TRIM_THRESHOLD_``, or when ``SKCONVEXRELU_TUNE_MALLOC=0`` is set.
"""

import ctypes
import os

#: ``mallopt`` parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc's ``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit systems
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

#: the environment variables that leave the allocator alone
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
OPT_OUT = "SKCONVEXRELU_TUNE_MALLOC"

_applied = None  # None: not tried yet; then True or False


def _glibc():
    """The process's C library when it is glibc, else None."""
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None
    if not version or not version.startswith("glibc"):
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:  # pragma: no cover - a glibc process always has its C library
        return None


def tune_allocator(libc=None, environ=None):
    """Raise glibc's ``mmap`` and trim thresholds once per process (see the module
    docstring). Returns whether they are set.

    Parameters
    ----------
    libc : object with a ``mallopt`` method, optional
        The C library (tests pass a stand-in); by default the process's own, when it is
        glibc.
    environ : mapping, optional
        The environment to read the opt-outs from (default ``os.environ``).
    """
    global _applied
    if _applied is not None and libc is None:
        return _applied
    environ = os.environ if environ is None else environ
    applied = False
    if environ.get(OPT_OUT, "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    ) and not any(key in environ for key in USER_SETTINGS):
        lib = _glibc() if libc is None else libc
        mallopt = getattr(lib, "mallopt", None)
        if mallopt is not None:
            applied = (
                mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            )
    if libc is None:
        _applied = applied
    return applied
