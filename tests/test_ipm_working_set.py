"""Tests of the per-neuron working sets of cone constraints
(``skconvexrelu.solvers.ipm._working_set``) and of their settings
(:class:`~skconvexrelu.solvers.settings.WorkingSetSettings`)."""

import numpy as np
import pytest
from _programs import small_problem

from skconvexrelu._losses import make_loss
from skconvexrelu.solvers.ipm import grow_working_set, initial_working_set
from skconvexrelu.solvers.ipm._working_set import _top_near, extend_pairs
from skconvexrelu.solvers.settings import WorkingSetSettings


def test_first_working_set_is_smaller_below_small_n():
    # below small_n samples each column starts with first_rows_small * d~ rows, from it
    # on with first_rows * d~; the blocks keep second_rows * m d~ either way
    program, *_ = small_problem("squared", n=200, P=4, width=3)
    n, d = program.Xt.shape
    o, _, P, _, m = program.shape
    defaults = WorkingSetSettings()
    assert defaults.first_rows_small < defaults.first_rows
    rows = {}
    for small_n in (n + 1, n):
        s = WorkingSetSettings(small_n=small_n)
        idx1, idx2 = initial_working_set(program, s)
        assert idx1.shape[1:] == (o, 2, P, m) and idx2.shape[1:] == (o, 2, P)
        assert idx2.shape[0] == s.second_rows * m * d
        for col in idx1.reshape(idx1.shape[0], -1).T:  # distinct sample rows per column
            assert np.unique(col).size == col.size and 0 <= col.min() and col.max() < n
        rows[small_n > n] = idx1.shape[0]
    assert rows[True] == defaults.first_rows_small * d
    assert rows[False] == defaults.first_rows * d


def test_first_working_set_follows_its_row_settings():
    program, *_ = small_problem("squared", n=200, P=4, width=3)
    n, d = program.Xt.shape
    m = program.shape[4]
    s = WorkingSetSettings(small_n=0, first_rows=3, second_rows=2)
    idx1, idx2 = initial_working_set(program, s)
    assert idx1.shape[0] == 3 * d
    assert idx2.shape[0] == min(n, 2 * m * d)


def test_working_set_grows_by_the_violated_constraints():
    program, *_ = small_problem("squared", n=60)
    s = WorkingSetSettings()
    idx1, idx2 = initial_working_set(program, s)
    U = np.random.default_rng(1).standard_normal(program.shape)
    (g1, g2), n_new, worst = grow_working_set(program, (idx1, idx2), U, 1e-10, s)
    assert n_new > 0 and worst > 0
    assert g1.shape[0] >= idx1.shape[0] and g2.shape[0] >= idx2.shape[0]
    assert np.array_equal(g1[: idx1.shape[0]], idx1)  # old rows kept in place
    # every constraint U violates is either in the new set or beyond the per-round cap
    s1 = program.A1[:, None, None] * program.first_layer(U)
    new_rows = g1[idx1.shape[0] :].reshape(g1.shape[0] - idx1.shape[0], -1)
    r, k = np.nonzero(new_rows >= 0)
    assert r.size > 0
    assert np.all(s1.reshape(60, -1)[new_rows[r, k], k] < 0)


def test_growth_quota_follows_the_settings_and_the_fraction():
    # at most fraction * add_first * d~ rows join each column per call
    program, *_ = small_problem("squared", n=200)
    d = program.Xt.shape[1]
    s = WorkingSetSettings(small_n=0, first_rows=1)
    ws = initial_working_set(program, s)
    U = np.random.default_rng(1).standard_normal(program.shape)
    added = {}
    for add_first, fraction in ((1, 1.0), (3, 1.0), (3, 0.5)):
        s = WorkingSetSettings(small_n=0, first_rows=1, add_first=add_first)
        grown = grow_working_set(program, ws, U, 1e-10, s, fraction=fraction)[0]
        added[add_first, fraction] = grown[0].shape[0] - ws[0].shape[0]
    assert added[1, 1.0] == d
    assert added[3, 1.0] == 3 * d
    assert added[3, 0.5] == int(1.5 * d)


def test_a_feasible_point_leaves_the_working_set_as_it_is():
    program, *_ = small_problem("squared", n=60)
    s = WorkingSetSettings()
    ws = initial_working_set(program, s)
    grown, n_new, worst = grow_working_set(program, ws, program.zeros(), 1e-10, s)
    assert n_new == 0 and worst == 0.0
    assert grown is ws


def test_top_near_picks_the_largest_near_entries():
    """``_top_near`` keeps, per column, the rows of its largest entries among the near
    ones, padded with -1: the same sets as a partition of every row, whether few entries
    are near (sorted) or many (partitioned)."""
    rng = np.random.default_rng(0)
    for frac in (0.01, 0.5):
        v = rng.standard_normal((2000, 30))
        v[:, 0] = -10.0  # a column with nothing near
        v[:3, 1], v[3:, 1] = 5.0, -10.0  # fewer near rows than kept
        near = v > np.quantile(v[:, 2:], 1.0 - frac)
        a = 5
        out = _top_near(v, near, a)
        assert out.shape == (a, 30)
        for j in range(30):
            cand = np.flatnonzero(near[:, j])
            want = cand[np.argsort(-v[cand, j])][:a]
            got = out[:, j][out[:, j] >= 0]
            assert sorted(got) == sorted(want)
        assert np.all(out[:, 0] == -1)
        assert np.count_nonzero(out[:, 1] >= 0) == 3


def test_rows_joining_a_run_start_on_the_central_path():
    s = np.array([[0.5, 2.0]])
    lam = np.array([[0.2, 0.05]])
    Gs = np.array([[0.4, 2.0], [-0.3, 1e-6], [0.7, 0.0]])  # two rows join
    M = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])  # one joins padded (-1)
    s2, lam2 = extend_pairs(s, lam, Gs, 1, M, mu=0.1, floor=1e-3)
    np.testing.assert_array_equal(s2[:1], s)  # old pairs untouched
    np.testing.assert_array_equal(lam2[:1], lam)
    # a violated row's slack mirrors the violation, a nearly active one gets the floor
    np.testing.assert_allclose(s2[1:], [[0.3, 1e-3], [0.7, 1.0]])
    np.testing.assert_allclose((s2 * lam2)[1:], [[0.1, 0.1], [0.1, 0.0]])


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("name", "cap_field"),
    [
        ("squared", "grow_max_n"),
        ("hinge", "grow_max_n_nonsmooth"),
        ("cross_entropy", "grow_max_n_curved"),
    ],
)
def test_grows_in_run_up_to_the_cap_of_the_loss(name, cap_field):
    loss = make_loss(name)
    defaults = WorkingSetSettings()
    cap = getattr(defaults, cap_field)
    if cap is None:  # the cross-entropy grows in the run at every size
        assert defaults.grows_in_run(loss, 10**9)
    else:
        assert defaults.grows_in_run(loss, cap)
        assert not defaults.grows_in_run(loss, cap + 1)
    # each loss reads its own cap, and only its own
    for other in ("grow_max_n", "grow_max_n_nonsmooth", "grow_max_n_curved"):
        s = WorkingSetSettings(**{other: 10})
        assert s.grows_in_run(loss, 11) == (other != cap_field)
        assert s.grows_in_run(loss, 10)
    assert not WorkingSetSettings(grow_in_run=False).grows_in_run(loss, 1)


def test_default_growth_caps_by_loss():
    s = WorkingSetSettings()
    assert s.grows_in_run(make_loss("squared"), 6000)
    assert not s.grows_in_run(make_loss("squared"), 6001)
    assert s.grows_in_run(make_loss("hinge"), 12000)
    assert not s.grows_in_run(make_loss("hinge"), 12001)
    assert s.grows_in_run(make_loss("cross_entropy"), 10**9)
    assert s.grows_in_run(make_loss("cross_entropy", 3), 10**9)


@pytest.mark.parametrize(
    ("name", "n_outputs", "curved"),
    [
        ("squared", 1, False),
        ("hinge", 1, False),
        ("cross_entropy", 1, True),
        ("cross_entropy", 3, True),
    ],
)
def test_pilot_quota_by_loss(name, n_outputs, curved):
    loss = make_loss(name, n_outputs)
    s = WorkingSetSettings(pilot_add_fraction=2.0, pilot_add_fraction_curved=7.0)
    assert s.pilot_quota(loss) == (7.0 if curved else 2.0)
    defaults = WorkingSetSettings()
    assert defaults.pilot_quota(loss) == (12.0 if curved else 1.0)
