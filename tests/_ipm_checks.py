"""Checks and settings shared by the tests of the interior-point method
(``test_ipm*.py``)."""

import numpy as np
import pytest

from skconvexrelu.solvers.ipm import grow_working_set
from skconvexrelu.solvers.settings import IPMSettings, WorkingSetSettings


def check_solution(program, loss, Y, w, beta, res, tol=1e-6):
    """``res`` is an optimal, feasible solution whose reported objective is its own."""
    U = res.U
    assert U.shape == program.shape
    # feasible: cone violation negligible next to the scale of the first layer
    Z = program.first_layer(U)
    assert program.cone_violation(U) <= 1e-8 * max(np.abs(Z).max(), 1e-300)
    # the reported objective is the objective of the returned point
    obj = program.objective(U, res.intercept, loss, Y, w, beta)
    assert obj == pytest.approx(res.objective, rel=1e-10, abs=1e-14)
    assert res.status == "optimal"
    assert res.stop_criterion <= tol
    assert res.solver.startswith("native:")
    assert len(res.history) >= 1


def with_working_set(ipm=None, **working_set):
    """:class:`IPMSettings` (fields ``ipm``) whose working sets take ``working_set``."""
    return IPMSettings(**(ipm or {}), working_set=WorkingSetSettings(**working_set))


def violated_outside(program, res):
    """The number of cone constraints outside ``res.working_set`` that ``res.U``
    violates (every sample checked)."""
    assert res.working_set is not None
    return grow_working_set(program, res.working_set, res.U, 1e-10, WorkingSetSettings())[1]
