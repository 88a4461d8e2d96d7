"""One BLAS thread for the small dense algebra of the models.

The comparison's and the Cox model's matrices are small (tens of columns): OpenBLAS's threads
gain nothing on them and, on a machine doing other work, oversubscribe the cores so that a
fit takes 10-20 times longer (issue #12). threadpoolctl limits the BLAS pool for the duration
of a call, and restores it after.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")


def single_blas_thread(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with the BLAS thread pool limited to one thread."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return wrapper
