"""The one compilation setting for feature kernels: numba ``njit``, cached on disk, GIL released.

Kernels are plain functions over a flat ``float64`` state array ``st`` and an offset ``o`` (the
feature's first slot), so one symbol's whole feature state is one array, kernels compose by
calling each other with different offsets, and the live path (one call per event) and the replay
path (a compiled loop over arrays) run the very same machine code. No ``fastmath``: floating-point
operations are not reordered, which is what makes live and replay bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def kernel(fn: F) -> F:
    """Compile ``fn`` with numba (nopython, cached, nogil, no fastmath)."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))
