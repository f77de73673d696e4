"""The fit pipeline (:mod:`skconvexrelu._fit`): the settings reach the solvers, the
``"auto"`` fallback to cvxpy, and fits on hard data (constant targets, extreme scales,
iteration limits, random problems) whose ``objective_`` is the rebuilt network's.

The hard-data tests run on both estimators and every solver, where they fit
(``_inputs``).
"""

import warnings

import numpy as np
import pytest
from _inputs import (  # noqa: F401  (the fixtures "kind" and "solver")
    _assert_consistent,
    _data,
    _est,
    _network_objective,
    _outputs,
    kind_fixture,
    solver_fixture,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import make_blobs, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import skconvexrelu.solvers as solvers
from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor
from skconvexrelu._fit import FitRun
from skconvexrelu.solvers import SolverError
from skconvexrelu.solvers.settings import (
    FirstOrderSettings,
    IPMSettings,
    SeedSettings,
    SolverChoiceSettings,
    WorkingSetSettings,
)

SMALL = dict(width=4, n_arrangements=6, random_state=0, arrangements="random")
#: "auto" takes the native solvers at every size
NATIVE = SolverChoiceSettings(native_size=0)


def _regression(n=30):
    X, y = make_regression(n, 4, noise=0.5, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std()


def _spy(calls, solve=None):
    """A solve function that records its keyword arguments and calls ``solve``."""

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return solve(*args, **kwargs)

    return spy


# ----------------------------------------------------------- settings to solvers


def _fit_run(**setup):
    """A :class:`FitRun` without data: enough for its solver set-up."""
    return FitRun(None, None, None, None, 1e-3, True, 3, None, **setup)


def test_solver_keyword_arguments_follow_the_solver():
    ipm, first = IPMSettings(cg_maxiter=150), FirstOrderSettings(max_iter=50)
    fit = _fit_run(
        solver_options=[first, ipm],
        max_iter=5,
        tol=1e-4,
        verbose=0,
        device="cpu",
        cvxpy_solver="SCS",
    )
    common = dict(max_iter=5, tol=1e-4, verbose=0)
    assert fit.solver_kwargs("cvxpy", None, 1, 2) == {**common, "cvxpy_solver": "SCS"}
    assert fit.solver_kwargs("ipm", None, 1, 2) == {
        **common,
        "U0": 1,
        "b0": 2,
        "settings": ipm,
    }
    assert fit.solver_kwargs("al-fista", None, 1, 2) == {
        **common,
        "U0": 1,
        "b0": 2,
        "settings": first,
        "device": "cpu",
    }
    # no settings of a kind: the defaults
    fit = _fit_run(solver_options=None)
    assert fit.solver_kwargs("ipm", None, None, None)["settings"] == IPMSettings()
    assert fit.choice == SolverChoiceSettings()


def test_polish_budget_shrinks_only_on_very_large_programs():
    from types import SimpleNamespace

    def program(n, o=1, P=10, d=8, m=10):
        return SimpleNamespace(
            Xt=np.zeros((n, 1)),
            shape=(o, 2, P, d, m),
            n_outputs=o,
            conf=SimpleNamespace(n_configurations=P),
        )

    fit = _fit_run(solver_options=SeedSettings(polish_work=4e7))
    fit.seed_point = (None, None)
    # a step's work: n * 200 columns * (8 + 32)
    assert fit.polish_budget(program(20)) == 200  # 250 allowed
    assert fit.polish_budget(program(200)) == 25
    assert fit.polish_budget(program(100, o=2)) == 25  # two outputs: twice the columns
    assert fit.polish_budget(program(100, d=168)) == 10  # 200 features: 5 times the work
    assert fit.polish_budget(program(10_000)) == 10  # never fewer than 10
    # fewer configurations than outputs cannot hold the seed: no polish from it
    assert fit.polish_budget(program(20, o=4, P=2)) == 0
    assert fit.polish_budget(program(20, o=3, P=3)) > 0
    fit.seed_point = None  # from a previous solution: warm_steps
    assert fit.polish_budget(program(20)) == 50
    assert fit.polish_budget(program(20, o=4, P=2)) == 50
    default = _fit_run()
    default.seed_point = (None, None)
    assert default.polish_budget(program(1_000_000, d=51)) == 60
    assert default.polish_budget(program(60_000, d=785)) == 101
    assert default.polish_budget(program(100_000, d=101)) == 200


def test_each_native_solver_gets_its_own_settings_and_cvxpy_none(monkeypatch):
    from skconvexrelu.solvers.first_order import solve_first_order
    from skconvexrelu.solvers.ipm import solve_native

    ipm, first = IPMSettings(cg_maxiter=150), FirstOrderSettings(max_iter=50)
    calls = {"ipm": [], "al-fista": [], "cvxpy": []}
    monkeypatch.setattr(solvers, "_load_native", lambda: _spy(calls["ipm"], solve_native))
    monkeypatch.setattr(
        solvers, "_load_first_order", lambda: _spy(calls["al-fista"], solve_first_order)
    )
    monkeypatch.setattr(solvers, "solve_cvxpy", _spy(calls["cvxpy"], solvers.solve_cvxpy))
    X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in calls:
            est = ConvexThreeLayerRegressor(solver=name, solver_options=[ipm, first], **SMALL)
            est.fit(X, y)
    assert calls["ipm"][0]["settings"] is ipm
    assert calls["al-fista"][0]["settings"] is first
    assert "settings" not in calls["cvxpy"][0]


def test_ipm_settings_change_the_interior_point_run():
    """Working sets from 100 samples on: the fit says so, and reaches the same optimum."""
    X, y = _regression(n=150)
    common = dict(width=3, n_arrangements=4, random_state=0, solver="ipm")
    full = ConvexThreeLayerRegressor(**common).fit(X, y)
    options = IPMSettings(working_set=WorkingSetSettings(min_n=100))
    ws = ConvexThreeLayerRegressor(solver_options=options, **common).fit(X, y)
    assert full.solver_ == "native:ipm-pcg"
    assert ws.solver_ == "native:ipm-pcg+working-set"
    assert ws.solver_status_ == "optimal"
    assert ws.objective_ == pytest.approx(full.objective_, rel=1e-5)
    np.testing.assert_allclose(ws.predict(X), full.predict(X), rtol=1e-3, atol=1e-3)


def test_first_order_settings_change_the_first_order_run():
    X, y = _regression()
    common = dict(solver="al-fista", tol=1e-10, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = ConvexThreeLayerRegressor(
            solver_options=FirstOrderSettings(max_iter=30), **common
        )
        ref = ConvexThreeLayerRegressor(**common).fit(X, y)
        short.fit(X, y)
    assert short.solver_status_ == "max_iter"
    assert short.n_iter_ < ref.n_iter_


def test_choice_settings_steer_auto_and_native():
    X, y = _regression()
    assert ConvexThreeLayerRegressor(**SMALL).fit(X, y).solver_ == "cvxpy:CLARABEL"
    native = ConvexThreeLayerRegressor(solver_options=NATIVE, **SMALL).fit(X, y)
    assert native.solver_ == "native:ipm-pcg"
    no_ipm = SolverChoiceSettings(ipm_max_flops=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = ConvexThreeLayerRegressor(solver="native", solver_options=no_ipm, **SMALL)
        assert est.fit(X, y).solver_ == "native:al-fista"


# ------------------------------------------------------------ fallback to cvxpy


def _broken(*args, **kwargs):
    raise np.linalg.LinAlgError("Matrix is not positive definite")


def _stalling(criterion):
    """The interior-point method stopped after 3 iterations, reported as stalled at
    ``criterion``."""
    from skconvexrelu.solvers.ipm import solve_native

    def solve(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = solve_native(*args, **{**kwargs, "max_iter": 3})
        res.status, res.stop_criterion = "stalled", criterion
        return res

    return solve


def test_auto_falls_back_to_cvxpy_when_the_native_solver_fails(monkeypatch):
    monkeypatch.setattr(solvers, "_load_native", lambda: _broken)
    X, y = _regression()
    with pytest.warns(ConvergenceWarning, match="native solver failed numerically"):
        reg = ConvexThreeLayerRegressor(solver_options=NATIVE, **SMALL).fit(X, y)
    assert reg.solver_ == "cvxpy:CLARABEL"
    # the advice fits the data: standardized features need a larger beta, others scaling
    with pytest.raises(SolverError, match="failed numerically.*larger beta") as raised:
        ConvexThreeLayerRegressor(solver="native", **SMALL).fit(X, y)
    assert "StandardScaler" not in str(raised.value)
    with pytest.raises(SolverError, match="failed numerically.*StandardScaler"):
        ConvexThreeLayerRegressor(solver="native", **SMALL).fit(100 * X + 50, y)


def test_auto_does_not_fall_back_to_cvxpy_on_programs_too_large_for_it(monkeypatch):
    # beyond fallback_max_size a numerical failure of the native solver raises instead
    # of starting a cvxpy solve of hours
    monkeypatch.setattr(solvers, "_load_native", lambda: _broken)
    X, y = _regression()
    options = SolverChoiceSettings(native_size=0, fallback_max_size=0)
    with pytest.raises(SolverError, match="too large for the cvxpy fallback"):
        ConvexThreeLayerRegressor(solver_options=options, **SMALL).fit(X, y)


def test_auto_falls_back_to_cvxpy_when_the_native_solver_stalls_far_from_tol(monkeypatch):
    """Cross-entropy goes to the native solver at every size; where it stalls far from
    tol on a program cvxpy can take, "auto" solves with cvxpy (a stall near tol stays)."""
    X, y = make_blobs(n_samples=40, centers=3, random_state=0)
    monkeypatch.setattr(solvers, "_load_native", lambda: _stalling(0.5))
    with pytest.warns(ConvergenceWarning, match="stalled at stopping criterion 0.5"):
        clf = ConvexThreeLayerClassifier(**SMALL).fit(X, y)
    assert clf.solver_ == "cvxpy:CLARABEL"
    # below fallback_criterion the native result stays
    options = SolverChoiceSettings(fallback_criterion=0.6)
    clf = ConvexThreeLayerClassifier(solver_options=options, **SMALL).fit(X, y)
    assert clf.solver_ == "native:ipm-pcg" and clf.solver_status_ == "stalled"
    monkeypatch.setattr(solvers, "_load_native", lambda: _stalling(1e-5))
    clf = ConvexThreeLayerClassifier(**SMALL).fit(X, y)
    assert clf.solver_ == "native:ipm-pcg"
    # a program too large for cvxpy keeps the native result
    monkeypatch.setattr(solvers, "_load_native", lambda: _stalling(0.5))
    clf = ConvexThreeLayerClassifier(solver_options=NATIVE, **SMALL).fit(X, y)
    assert clf.solver_ == "native:ipm-pcg" and clf.solver_status_ == "stalled"


# ----------------------------------------------------------------- hard data


@pytest.mark.parametrize("value", [0.0, 3.0, -1e3])
def test_constant_targets_give_the_zero_network(solver, value):
    X, _ = _data("regressor")
    y = np.full(len(X), value)
    est = _est("regressor", solver).fit(X, y)
    pred = est.predict(X)
    np.testing.assert_allclose(pred, value, rtol=1e-6, atol=1e-6)
    assert est.n_subnetworks_ == 0 or est.objective_ <= 1e-8 * max(1.0, value**2)
    _assert_consistent(est, X, y)


def test_constant_multi_output_targets(solver):
    X, _ = _data("regressor")
    Y = np.column_stack([np.full(len(X), 2.0), np.full(len(X), -1.0)])
    est = _est("regressor", solver).fit(X, Y)
    np.testing.assert_allclose(est.predict(X), Y, atol=1e-6)


@pytest.mark.parametrize("noise_targets", [False, True], ids=["smooth", "noise"])
@pytest.mark.parametrize("scale", [1e8, 1e-8])
def test_extreme_feature_scale_does_not_break(kind, solver, scale, noise_targets):
    """Huge or tiny features: fit succeeds with finite output and a right objective_."""
    X, y = _data(kind, scale=scale)
    if noise_targets and kind == "regressor":
        y = np.random.default_rng(0).standard_normal(len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _est(kind, solver).fit(X, y)
    out = _outputs(est, X)
    assert np.all(np.isfinite(out))
    assert not np.any(np.isnan(est.predict(X * 3.0)))
    _assert_consistent(est, X, y, rtol=1e-4)


def test_huge_feature_scale_minimal_example(solver):
    """A case of the property test (scale 1e8): the network's objective must be
    objective_.

    With cvxpy + Clarabel the solve ends inaccurate with the cone constraints violated,
    so the rebuilt network's objective differs from the convex one: it must not be
    returned as the convex optimum. Refusing (ValueError) is acceptable.
    """
    X = np.zeros((17, 2))
    X[15, 1], X[16, 1] = 1e8, -1e8
    y = np.zeros(17)
    y[16] = 1.0
    est = _est("regressor", solver)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
    except ValueError:
        return
    _assert_consistent(est, X, y)


def test_large_targets(solver):
    X, y = _data("regressor")
    for s in (1e6, 1e-6):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = _est("regressor", solver).fit(X, y * s)
        assert np.all(np.isfinite(est.predict(X)))
        _assert_consistent(est, X, y * s, rtol=1e-4)


@pytest.mark.parametrize("max_iter", [1, 3])
def test_iteration_limit_result_is_consistent(kind, solver, max_iter):
    """A solve stopped by max_iter warns, and objective_ is still the network's objective.

    (cvxpy: Clarabel's iterate after a few interior-point steps violates the cone
    constraints, so the rebuilt network computes something else than the convex model.)
    """
    X, y = _data(kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est = _est(kind, solver, max_iter=max_iter).fit(X, y)
        except ValueError:
            return  # a clear refusal is fine
    if est.solver_status_ != "optimal":
        assert caught, "a fit stopped early must warn"
    _assert_consistent(est, X, y)


# ---------------------------------------------------------------- property tests

_VALUES = st.one_of(
    st.integers(-3, 3).map(float),  # small pool: many duplicated rows and columns
    st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False),
)
# no shrinking: a failing example is reported as drawn (shrinking a fit takes minutes)
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate]
_SCALES = st.sampled_from([1e-6, 1e-3, 1.0, 1.0, 1e3, 1e6])


@st.composite
def _problems(draw, kind):
    n = draw(st.integers(2, 25))
    d = draw(st.integers(1, 4))
    X = draw(hnp.arrays(np.float64, (n, d), elements=_VALUES)) * draw(_SCALES)
    if draw(st.booleans()):  # duplicate some rows
        idx = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n))
        X = np.vstack([X, X[idx]])
        n = len(X)
    if kind == "regressor":
        y = draw(hnp.arrays(np.float64, n, elements=_VALUES)) * draw(_SCALES)
    else:
        n_classes = draw(st.integers(1, 3))
        y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, n_classes - 1)))
    return X, y


def _check_property(kind, solver, loss, problem):
    X, y = problem
    params = {"loss": loss} if loss else {}
    est = _est(kind, solver, **params)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
    except (ValueError, TypeError):
        return  # a clear refusal is allowed; anything else (LinAlgError, ...) is a bug
    out = _outputs(est, X)
    assert np.all(np.isfinite(out))
    obj = _network_objective(est, X, y)
    assert obj == pytest.approx(est.objective_, rel=1e-5, abs=1e-9)


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    phases=_PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(problem=_problems("regressor"))
def test_property_regressor(solver, problem):
    _check_property("regressor", solver, None, problem)


@pytest.mark.parametrize("loss", ["cross_entropy", "hinge", "squared"])
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    phases=_PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(problem=_problems("classifier"))
def test_property_classifier(solver, loss, problem):
    _check_property("classifier", solver, loss, problem)


def test_the_polish_runs_in_single_precision_on_the_seed_signs(monkeypatch):
    """The budgeted polish gets ``FirstOrderSettings(dtype="float32", signs="start")``
    by default; a ``dtype`` or ``signs`` the user sets wins, and ``polish_dtype=None`` /
    ``polish_signs="both"`` keep the data's precision / both signs. The returned point
    is in the data's precision and ``objective_`` is the network's."""
    from skconvexrelu.solvers.first_order import solve_first_order

    calls = []
    monkeypatch.setattr(solvers, "_load_first_order", lambda: _spy(calls, solve_first_order))
    X, y = _regression(n=60)
    common = dict(width=4, n_arrangements=4, random_state=0)
    options = [
        (("float32", "start"), None),
        (("float64", "start"), FirstOrderSettings(dtype="float64")),
        ((None, "start"), SeedSettings(polish_dtype=None)),
        (("float32", "both"), SeedSettings(polish_signs="both")),
    ]
    for expected, option in options:
        est = ConvexThreeLayerRegressor(solver_options=option, **common).fit(X, y)
        assert calls[-1]["budget"] is True
        settings = calls[-1]["settings"]
        assert (settings.dtype, settings.signs) == expected
        assert est.coefs_[0].dtype == np.float64
        assert est.objective_ == pytest.approx(_network_objective(est, X, y), rel=1e-9)
    # from a previous solution (warm_start): both signs, at another beta
    warm = ConvexThreeLayerRegressor(warm_start=True, **common).fit(X, y)
    warm.set_params(beta=warm.beta_ / 4).fit(X, y)
    assert calls[-1]["budget"] is True and calls[-1]["U0"] is not None
    assert calls[-1]["settings"].signs == "both"
    assert warm.objective_ == pytest.approx(_network_objective(warm, X, y), rel=1e-9)
    # a round of column generation starts from the last solution: both signs, since the
    # configurations it adds may enter with either
    calls.clear()
    grown = ConvexThreeLayerRegressor(column_generation=1, **common).fit(X, y)
    assert len(calls) == len(grown.objective_path_) == 2  # the seed's polish, one round
    assert [c["settings"].signs for c in calls] == ["start", "both"]


def test_a_path_of_warm_fits_stays_on_the_first_configurations(monkeypatch):
    """A budgeted fit is rebuilt on its own network's configurations (up to one per block
    and sign), but the next fit of a path starts from the solver's point on the program's
    configurations: the program keeps its size along the path (the CV estimators' cost
    per fit stays that of the first), and every fit's ``objective_`` is its network's."""
    from skconvexrelu.solvers.first_order import solve_first_order

    calls = []

    def spy(program, *args, **kwargs):
        calls.append(dict(kwargs, program=program))
        return solve_first_order(program, *args, **kwargs)

    monkeypatch.setattr(solvers, "_load_first_order", lambda: spy)
    X, y = _regression(n=80)
    est = ConvexThreeLayerRegressor(width=4, n_arrangements=4, warm_start=True, random_state=0)
    est.fit(X, y)
    first = est._warm[0]
    assert est._warm[1].shape[2] == first.n_configurations
    for factor in (0.3, 0.1, 0.03):
        previous = est._warm
        est.set_params(beta=est.beta_ * factor).fit(X, y)
        program = calls[-1]["program"]
        assert program.conf is first  # not the configurations of the rebuilt network
        np.testing.assert_array_equal(calls[-1]["U0"], previous[1])
        assert est._warm[0] is first
        assert est.objective_ == pytest.approx(_network_objective(est, X, y), rel=1e-9)


def test_single_precision_polish_ends_where_the_double_precision_one_does():
    X, y = _regression(n=80)
    common = dict(width=4, n_arrangements=4, random_state=0)
    single = ConvexThreeLayerRegressor(**common).fit(X, y)
    double = ConvexThreeLayerRegressor(
        solver_options=SeedSettings(polish_dtype=None), **common
    ).fit(X, y)
    assert single.n_iter_ == double.n_iter_ > 0
    assert single.objective_ == pytest.approx(double.objective_, rel=1e-4)
    np.testing.assert_allclose(single.predict(X), double.predict(X), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("classes,polished", [(3, True), (4, False)])
def test_no_polish_when_the_program_cannot_hold_the_seed(classes, polished, capsys):
    """Four classes at the default ``max_output_blocks`` leave two configurations for
    four outputs: the fit is the seed network, with no first-order steps, and
    ``verbose=1`` says why."""
    X, y = make_blobs(240, n_features=4, centers=classes, cluster_std=3.0, random_state=0)
    est = ConvexThreeLayerClassifier(width=4, random_state=0, verbose=1).fit(X, y)
    solve_line = capsys.readouterr().out.splitlines()[1]
    assert ("no polish: 2 configurations for 4 outputs" in solve_line) == (not polished)
    assert (est.n_iter_ > 0) == polished
    assert est.objective_ <= est.nonconvex_objective_ * (1 + 1e-9)
    assert est.objective_ == pytest.approx(_network_objective(est, X, y), rel=1e-9)
