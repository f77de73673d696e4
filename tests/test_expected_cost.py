"""The up-front estimate of a fit's time and the warning for a fit far beyond its data."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_regression

from skconvexrelu import ConvexThreeLayerRegressor, LongFitWarning
from skconvexrelu._arrangements import sample_configurations
from skconvexrelu._expected_cost import expected_seconds, first_order_step_work
from skconvexrelu._program import ConvexProgram
from skconvexrelu.solvers.ipm import ipm_iteration_flops
from skconvexrelu.solvers.settings import SeedSettings, SolverChoiceSettings


def _data(n=60, d=4):
    X, y = make_regression(n_samples=n, n_features=d, noise=1.0, random_state=0)
    return X / X.std(axis=0), y / y.std()


def _program(n=50, d=3, P=4, m=2):
    rng = np.random.default_rng(0)
    Xt = np.hstack([rng.normal(size=(n, d)), np.ones((n, 1))])
    return ConvexProgram(Xt, sample_configurations(Xt, m, P, 0), 1)


def test_estimates_follow_their_models():
    program = _program()
    choice = SolverChoiceSettings(flops_per_second=1e6, work_per_second=1e3)
    o, _, P, d, m = program.shape
    assert first_order_step_work(program) == 50 * o * 2 * P * m * (d + 32)
    fo = expected_seconds("al-fista", program, 7, choice)
    assert fo == pytest.approx(7 * first_order_step_work(program) / 1e3)
    ipm = expected_seconds("ipm", program, 7, choice)
    assert ipm == pytest.approx(40 * ipm_iteration_flops(program) / 1e6)
    assert expected_seconds("cvxpy", program, 7, choice) is None


def _program_of(reg, X):
    """The program a random-configuration fit of ``reg`` solves on ``X``."""
    Xt = np.hstack([X, np.ones((len(X), 1))])
    conf = sample_configurations(Xt, reg.width, reg.n_arrangements, reg.random_state)
    return ConvexProgram(Xt, conf, 1)


def _sampled(**params):
    """A small regressor on random configurations (no seed network), solved to tol."""
    base = dict(arrangements="random", solver="ipm", random_state=0, n_arrangements=3, width=2)
    return ConvexThreeLayerRegressor(**{**base, **params})


def _slow(**kwargs):
    """Settings under which every fit is expected to be slow."""
    return SolverChoiceSettings(work_per_second=1.0, flops_per_second=1.0, **kwargs)


def test_a_long_fit_warns_once_with_the_time_and_what_to_change():
    X, y = _data()
    reg = _sampled(column_generation=2, solver_options=_slow())
    with pytest.warns(LongFitWarning) as record:
        reg.fit(X, y)
    long = [w for w in record if w.category is LongFitWarning]
    assert len(long) == 1  # not again for the rounds of column generation
    text = str(long[0].message)
    assert "expected to take about" in text and "60 samples x 5 features" in text
    assert "max_time" in text and "n_arrangements" in text
    assert reg.score(X, y) > 0.5  # the warning does not change the fit


def test_the_default_polish_is_bounded_only_the_seed_can_warn():
    """The polish has a fixed budget (SeedSettings.polish_work): under rates that make
    everything slow only the seed network's training warns."""
    X, y = _data()
    reg = ConvexThreeLayerRegressor(random_state=0, solver_options=_slow())
    with pytest.warns(LongFitWarning) as record:
        reg.fit(X, y)
    long = [str(w.message) for w in record if w.category is LongFitWarning]
    assert len(long) == 1 and "seed network" in long[0]
    assert "10 sub-networks of width 10, 500 Adam steps on 60 samples" in long[0]
    assert reg.solver_status_ in ("budget", "optimal")
    with warnings.catch_warnings():  # at the default rates: quiet
        warnings.simplefilter("error", LongFitWarning)
        ConvexThreeLayerRegressor(random_state=0).fit(X, y)


def test_a_seed_network_beyond_memory_is_refused_up_front():
    X, y = _data()
    reg = ConvexThreeLayerRegressor(n_arrangements=10**7)
    with pytest.raises(ValueError, match="seed network of 10000000 sub-networks.*GiB.*fewer"):
        reg.fit(X, y)


def test_seed_estimates_follow_the_plan():
    from skconvexrelu._expected_cost import seed_memory_bytes, seed_seconds
    from skconvexrelu._seeding import seed_plan

    settings = SeedSettings()
    full = seed_plan(100, 10, 1, settings)  # full batches, 500 steps
    assert (full.batch_size, full.n_steps, full.decay) == (None, 500, False)
    mini = seed_plan(100_000, 10, 3, settings)  # 391 batches a pass: the step cap
    assert (mini.batch_size, mini.n_steps, mini.decay) == (256, 20_000, True)
    choice = SolverChoiceSettings(work_per_second=1.0)
    assert seed_seconds(full, 100, 5, 10, choice) == 500 * 100 * 100 * 37
    assert seed_seconds(mini, 100_000, 5, 10, choice) == 2 * 20_000 * 256 * 100 * 37
    assert seed_memory_bytes(mini, 100_000, 5, 10) == 8 * (
        6 * 256 * 100 + 3 * 100_000 * 100 + 6 * 100 * 5
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_an_unbounded_first_order_fit_advises_max_iter():
    pytest.importorskip("torch")
    X, y = _data()
    reg = _sampled(solver="native", device="cpu", max_iter=5, solver_options=_slow())
    with pytest.warns(LongFitWarning, match="5 first-order steps.*max_iter"):
        reg.fit(X, y)


def test_an_interior_point_fit_advises_fewer_arrangements():
    X, y = _data()
    reg = _sampled(solver_options=_slow())
    with pytest.warns(LongFitWarning, match="interior-point method.*n_arrangements"):
        reg.fit(X, y)


def test_max_time_below_the_limit_or_a_fast_fit_stays_quiet():
    X, y = _data()
    for options, max_time in [(_slow(), 1.0), (SolverChoiceSettings(), None)]:
        reg = _sampled(solver_options=options, max_time=max_time)
        with warnings.catch_warnings():
            warnings.simplefilter("error", LongFitWarning)
            reg.fit(X, y)


@pytest.mark.parametrize("per_entry, warns", [(2.0, False), (1.0, True)])
def test_the_limit_grows_with_the_data(per_entry, warns):
    """The same expected time (about 1,500 s) is quiet when the limit for the 200 x 5
    entries is 2,000 s and warns when it is 1,000 s."""
    X, y = _data(n=200, d=4)
    reg = _sampled()
    est = expected_seconds(
        "ipm", _program_of(reg, X), 0, SolverChoiceSettings(flops_per_second=1.0)
    )
    rate = est / 1500.0  # flops per second that make the estimate 1,500 s
    choice = SolverChoiceSettings(flops_per_second=rate, seconds_per_entry=per_entry)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.set_params(solver_options=choice).fit(X, y)
    assert any(w.category is LongFitWarning for w in caught) == warns


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_max_time_bounds_the_seed_network_too():
    """6,000 sub-networks on 40 rows: the seed alone takes over half a minute; with
    max_time=1 the fit returns a model within seconds."""
    import time

    X, y = _data(n=40)
    reg = ConvexThreeLayerRegressor(n_arrangements=6000, max_time=1.0, random_state=0)
    start = time.perf_counter()
    reg.fit(X, y)
    assert time.perf_counter() - start < 10.0
    assert reg.solver_status_ == "max_time"
    assert np.all(np.isfinite(reg.predict(X)))
