"""The allocator tuning of the native solvers (glibc's mmap and trim thresholds)."""

import numpy as np
import pytest
from _programs import small_problem

from skconvexrelu.solvers import _allocator
from skconvexrelu.solvers._allocator import (
    M_MMAP_THRESHOLD,
    M_TRIM_THRESHOLD,
    MMAP_THRESHOLD,
    TRIM_THRESHOLD,
    tune_allocator,
)


class FakeLibc:
    def __init__(self, ret=1):
        self.calls = []
        self.ret = ret

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return self.ret


def test_sets_both_thresholds():
    libc = FakeLibc()
    assert tune_allocator(libc=libc, environ={})
    assert libc.calls == [
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
    ]
    # glibc's own adaptive maximum on 64-bit systems, and twice it
    assert MMAP_THRESHOLD == 32 * 2**20 and TRIM_THRESHOLD == 64 * 2**20


@pytest.mark.parametrize(
    "environ",
    [
        {"SKCONVEXRELU_TUNE_MALLOC": "0"},
        {"SKCONVEXRELU_TUNE_MALLOC": "Off"},
        {"MALLOC_MMAP_THRESHOLD_": "131072"},
        {"MALLOC_TRIM_THRESHOLD_": "131072"},
    ],
)
def test_opt_out_and_user_settings_leave_the_allocator_alone(environ):
    libc = FakeLibc()
    assert not tune_allocator(libc=libc, environ=environ)
    assert libc.calls == []


def test_refusal_and_missing_mallopt_are_not_errors():
    assert not tune_allocator(libc=FakeLibc(ret=0), environ={})
    assert not tune_allocator(libc=object(), environ={})


def test_runs_once_per_process(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(_allocator, "_applied", None)
    monkeypatch.setattr(_allocator, "_glibc", lambda: libc)
    monkeypatch.setattr(_allocator.os, "environ", {})
    assert tune_allocator() and tune_allocator()
    assert len(libc.calls) == 2  # two thresholds, set once


def test_non_glibc_process(monkeypatch):
    monkeypatch.setattr(_allocator, "_applied", None)
    monkeypatch.setattr(_allocator.os, "confstr", lambda name: None)
    assert _allocator._glibc() is None
    monkeypatch.setattr(_allocator.os, "environ", {})
    assert not tune_allocator()


def test_detects_this_process_s_c_library():
    version = getattr(_allocator.os, "confstr", lambda name: None)("CS_GNU_LIBC_VERSION")
    if not version or not version.startswith("glibc"):
        pytest.skip("not a glibc process")
    assert hasattr(_allocator._glibc(), "mallopt")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["ipm", "al-fista"])
def test_native_solvers_tune_the_allocator(monkeypatch, solver):
    from skconvexrelu.solvers import get_solver

    calls = []
    monkeypatch.setattr(_allocator, "_applied", None)
    monkeypatch.setattr(_allocator, "_glibc", lambda: calls.append(1) or FakeLibc())
    monkeypatch.setattr(_allocator.os, "environ", {})
    program, loss, Y, w, beta = small_problem(n=30, loss="squared")
    res = get_solver(solver)(program, loss, Y, w, beta, max_iter=5)
    assert np.isfinite(res.objective)
    assert calls == [1]
