"""Which solver runs (``solver`` names, the ``"native"`` choice, ``device``, the choice
settings) and the result contract (``skconvexrelu.solvers``, ``SolveResult``)."""

import dataclasses
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skconvexrelu import ConvexThreeLayerRegressor
from skconvexrelu._arrangements import sample_configurations
from skconvexrelu._losses import make_loss
from skconvexrelu._program import ConvexProgram
from skconvexrelu.solvers import (
    SOLVERS,
    SolverChoiceSettings,
    SolveResult,
    cvxpy_sized,
    get_solver,
    ipm_is_affordable,
    program_size,
    resolve_solver,
)
from skconvexrelu.solvers.ipm import estimate_memory, ipm_iteration_flops


def _program(n, d, width=3, P=4, seed=0):
    rng = np.random.default_rng(seed)
    Xt = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))])
    conf = sample_configurations(Xt, width, P, random_state=seed)
    return ConvexProgram(Xt, conf)


def _data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.sin(X[:, 0]) + 0.1 * X[:, 1]


def test_every_solver_name_resolves_to_a_solve_function():
    program = _program(30, 3)
    for name in SOLVERS:
        resolved = resolve_solver(name, program)
        assert resolved in ("cvxpy", "ipm", "al-fista")
        assert callable(get_solver(resolved))
    with pytest.raises(ValueError, match="Unknown solver"):
        get_solver("newton")


def test_auto_uses_cvxpy_for_small_programs_and_native_for_large_ones():
    assert resolve_solver("auto", _program(30, 3)) == "cvxpy"
    big = _program(3000, 10, width=10, P=20)
    assert resolve_solver("auto", big) == "ipm"  # 3000 x 8800 variables, narrow blocks


@pytest.mark.parametrize(
    "loss,o,expected",
    [
        ("squared", 1, "cvxpy"),
        ("hinge", 1, "cvxpy"),
        ("cross_entropy", 1, "ipm"),
        ("cross_entropy", 3, "ipm"),
    ],
)
def test_auto_uses_the_native_solver_for_cross_entropy_at_every_size(loss, o, expected):
    small = _program(30, 3)
    assert resolve_solver("auto", small, loss=make_loss(loss, o)) == expected
    assert resolve_solver("auto", small, device="cpu", loss=make_loss(loss, o)) == "al-fista"


def test_auto_goes_native_for_any_smooth_loss_of_varying_curvature():
    """The rule is a trait of the loss, not its name."""
    small = _program(30, 3)
    for smooth, constant, expected in [
        (True, False, "ipm"),
        (True, True, "cvxpy"),
        (False, False, "cvxpy"),
    ]:
        loss = SimpleNamespace(smooth=smooth, constant_curvature=constant)
        assert resolve_solver("auto", small, loss=loss) == expected


def test_choice_settings_move_the_thresholds():
    small, big = _program(30, 3), _program(3000, 10, width=10, P=20)
    assert cvxpy_sized(small) and not cvxpy_sized(big)
    to_native = SolverChoiceSettings(native_size=program_size(small) - 1)
    assert not cvxpy_sized(small, to_native)
    assert resolve_solver("auto", small, settings=to_native) == "ipm"
    to_cvxpy = SolverChoiceSettings(native_size=program_size(big))
    assert resolve_solver("auto", big, settings=to_cvxpy) == "cvxpy"
    no_ipm = SolverChoiceSettings(ipm_max_flops=0)
    assert not ipm_is_affordable(small, no_ipm)
    assert resolve_solver("native", small, settings=no_ipm) == "al-fista"
    assert resolve_solver("auto", big, settings=no_ipm) == "al-fista"


def test_random_configurations_of_a_small_classifier_go_to_the_interior_point_method():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    from skconvexrelu import ConvexThreeLayerClassifier

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = ConvexThreeLayerClassifier(
        width=4, n_arrangements=5, arrangements="random", random_state=0
    ).fit(X, y)
    assert est.solver_ == "native:ipm-pcg"
    assert est.solver_status_ == "optimal"
    assert est.stop_criterion_ <= est.tol


def test_default_classifier_polishes_its_seed_network_with_the_first_order_method():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    from skconvexrelu import ConvexThreeLayerClassifier

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a default fit on standardized data is quiet
        est = ConvexThreeLayerClassifier(random_state=0).fit(X, y)
    assert est.solver_ == "native:al-fista"
    assert est.solver_status_ in ("optimal", "budget")
    assert est.objective_ < est.nonconvex_objective_
    assert est.score(X, y) > 0.95


def test_native_picks_the_first_order_method_for_wide_inputs():
    narrow = _program(200, 5)
    wide = _program(2000, 300, width=5, P=4)
    assert ipm_is_affordable(narrow)
    assert ipm_iteration_flops(wide) > SolverChoiceSettings().ipm_max_flops
    assert not ipm_is_affordable(wide)
    assert resolve_solver("native", narrow) == "ipm"
    assert resolve_solver("native", wide) == "al-fista"
    # the cost estimates grow with n and with the block width
    assert ipm_iteration_flops(_program(400, 5)) > ipm_iteration_flops(_program(200, 5))
    assert estimate_memory(wide) > estimate_memory(narrow)


def test_a_device_selects_the_first_order_method():
    program = _program(30, 3)
    assert resolve_solver("auto", program, device="cpu") == "al-fista"
    assert resolve_solver("native", program, device="cpu") == "al-fista"


@pytest.mark.parametrize("solver", ["cvxpy", "ipm"])
def test_device_with_a_solver_that_cannot_use_it_is_an_error(solver):
    X, y = _data()
    with pytest.raises(ValueError, match="al-fista"):
        ConvexThreeLayerRegressor(solver=solver, device="cpu").fit(X, y)


def test_bad_device_is_a_clear_error():
    X, y = _data()
    with pytest.raises(ValueError, match="Unknown device"):
        ConvexThreeLayerRegressor(device="gpu0").fit(X, y)
    with pytest.raises(ValueError, match="device must be"):
        ConvexThreeLayerRegressor(device=3).fit(X, y)


def test_device_without_torch_names_the_missing_dependency(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    X, y = _data()
    with pytest.raises(ImportError, match="torch"):
        ConvexThreeLayerRegressor(device="cpu").fit(X, y)


def test_estimators_record_which_native_solver_ran():
    X, y = _data(n=60)
    common = dict(width=3, n_arrangements=4, random_state=0, tol=1e-4)
    ipm = ConvexThreeLayerRegressor(solver="ipm", **common).fit(X, y)
    assert ipm.solver_ == "native:ipm-pcg"
    native = ConvexThreeLayerRegressor(solver="native", **common).fit(X, y)
    assert native.solver_ == "native:ipm-pcg"
    assert native.objective_ == pytest.approx(ipm.objective_, rel=1e-12)


def test_torch_device_runs_the_first_order_solver():
    pytest.importorskip("torch")
    X, y = _data(n=60)
    common = dict(width=3, n_arrangements=4, random_state=0, tol=1e-3, solver="al-fista")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = ConvexThreeLayerRegressor(**common).fit(X, y)
        dev = ConvexThreeLayerRegressor(device="cpu", **common).fit(X, y)
    assert ref.solver_ == "native:al-fista"
    assert dev.solver_ == "native:al-fista[torch:cpu]"
    assert dev.objective_ == pytest.approx(ref.objective_, rel=1e-6)
    np.testing.assert_allclose(dev.predict(X), ref.predict(X), rtol=1e-5, atol=1e-7)


def test_solve_result_declares_every_field_with_defaults():
    names = {f.name for f in dataclasses.fields(SolveResult)}
    extra = {"n_cg", "n_direct", "working_set", "working_set_rows", "n_grown", "n_rounds"}
    assert extra | {"n_pilot_iter", "feasible", "warm_start", "device"} <= names
    empty = dict(U=np.zeros(1), intercept=np.zeros(1), objective=0.0, n_iter=0)
    res = SolveResult(status="optimal", **empty)
    assert (res.n_cg, res.n_rounds, res.working_set, res.device) == (0, 1, None, None)
    assert np.isnan(res.stop_criterion) and res.history == []
    assert SolveResult(status="optimal", **empty).history is not res.history
