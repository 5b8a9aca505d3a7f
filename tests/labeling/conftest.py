"""Labeling tests train many small scikit-learn models; BLAS threads only slow those down.

On a shared two-core machine, OpenBLAS threads spin waiting for each other on 64-feature problems
(a digits logistic regression took 7 s with two threads under load, 0.25 s with one), so the tests of
this folder run BLAS single-threaded. The code under test is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield
