"""Fits on Dask arrays: the blockwise program and solver against their in-memory
counterparts, the estimators on a LocalCluster, what never leaves the workers, errors."""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor  # noqa: E402
from skconvexrelu._arrangements import sample_configurations  # noqa: E402
from skconvexrelu._dask import BlockwiseProgram  # noqa: E402
from skconvexrelu._fit_dask import own_configurations_blockwise  # noqa: E402
from skconvexrelu._losses import make_loss  # noqa: E402
from skconvexrelu._program import ConvexProgram  # noqa: E402
from skconvexrelu._reconstruction import network_objective  # noqa: E402
from skconvexrelu._seeding import own_configurations  # noqa: E402
from skconvexrelu.solvers import get_solver  # noqa: E402
from skconvexrelu.solvers.first_order import solve_first_order  # noqa: E402
from skconvexrelu.solvers.first_order._blockwise import (  # noqa: E402
    solve_first_order_blockwise,
)
from skconvexrelu.solvers.settings import DaskSettings, SeedSettings  # noqa: E402


def _teacher(n, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.maximum(X[:, 0] + 0.5 * X[:, 1], 0) - np.abs(X[:, 2]) + 0.1 * rng.normal(size=n)
    return X, y


def _targets(loss, y):
    if loss == "squared":
        return ((y - y.mean()) / y.std())[:, None]
    return np.where(y > np.median(y), 1.0, -1.0)[:, None]


@pytest.fixture
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cl,
        distributed.Client(cl) as client,
    ):
        yield client


def _programs(n=240, chunk=70, block_elements=2**19, seed=0):
    X, _ = _teacher(n, seed=seed)
    Xt = np.hstack([X, np.ones((n, 1))])
    conf = sample_configurations(Xt, 3, 4, 0)
    memory = ConvexProgram(Xt, conf, 1)
    blocks = BlockwiseProgram(
        da.from_array(Xt, chunks=(chunk, -1)), conf, 1, np.float64, Xt, block_elements
    )
    return memory, blocks


# ------------------------------------------------------------------- the program
@pytest.mark.parametrize("block_elements", [64, 2**19])
def test_blockwise_program_matches_in_memory(synchronous, block_elements):
    memory, blocks = _programs(block_elements=block_elements)
    U = np.random.default_rng(1).normal(size=memory.shape)
    loss = make_loss("squared", 1)
    Y = np.random.default_rng(2).normal(size=(memory.n_samples, 1))
    w = np.full(memory.n_samples, 1 / memory.n_samples)
    np.testing.assert_allclose(blocks.forward(U), memory.forward(U), rtol=1e-12, atol=1e-12)
    assert blocks.objective(U, 0.3, loss, Y, w, 0.1) == pytest.approx(
        memory.objective(U, 0.3, loss, Y, w, 0.1), rel=1e-12
    )
    assert blocks.cone_violation(U) == pytest.approx(memory.cone_violation(U), rel=1e-12)
    assert blocks.cone_violation(U) > 0  # a random point violates its cones
    np.testing.assert_array_equal(blocks.active(), memory.conf.D2.any(axis=0))


def test_blockwise_own_configurations_match_in_memory(synchronous):
    memory, blocks = _programs()
    U = np.random.default_rng(3).normal(size=memory.shape)
    U[0, 1, 2] = 0.0  # a zero block is left out
    loss = make_loss("squared", 1)
    Y = np.random.default_rng(2).normal(size=(memory.n_samples, 1))
    w = np.full(memory.n_samples, 1 / memory.n_samples)
    own_m, V_m = own_configurations(memory, U)
    own_b, V_b = own_configurations_blockwise(blocks, U)
    np.testing.assert_array_equal(V_b, V_m)
    assert own_b.cone_violation(V_b) == 0.0
    assert own_b.objective(V_b, 0.0, loss, Y, w, 0.1) == pytest.approx(
        own_m.objective(V_m, 0.0, loss, Y, w, 0.1), rel=1e-12
    )


def test_blockwise_program_needs_the_networks():
    memory, _ = _programs()
    conf = memory.conf
    bare = type(conf)(conf.D1, conf.signs, conf.D2)
    with pytest.raises(ValueError, match="networks"):
        BlockwiseProgram(da.from_array(memory.Xt), bare, 1, np.float64, memory.Xt)


# -------------------------------------------------------------------- the solver
@pytest.mark.parametrize("loss_name", ["squared", "hinge", "cross_entropy"])
def test_blockwise_solver_takes_the_in_memory_steps(synchronous, loss_name):
    memory, blocks = _programs(n=300, chunk=80)
    _, y = _teacher(300)
    Y = _targets(loss_name, y)
    loss = make_loss(loss_name, 1)
    w = np.full(300, 1 / 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = solve_first_order(memory, loss, Y, w, 1e-2, max_iter=150, tol=1e-8)
        res = solve_first_order_blockwise(blocks, loss, Y, w, 1e-2, max_iter=150, tol=1e-8)
    assert res.n_iter == ref.n_iter
    assert res.status == ref.status
    assert res.objective == pytest.approx(ref.objective, rel=1e-10)
    np.testing.assert_allclose(res.U, ref.U, atol=1e-9 * np.abs(ref.U).max())
    np.testing.assert_allclose(res.history, ref.history, rtol=1e-9)


def test_blockwise_solver_reaches_tol(synchronous):
    memory, blocks = _programs(n=120, chunk=60)
    _, y = _teacher(120)
    Y = _targets("squared", y)
    loss = make_loss("squared", 1)
    w = np.full(120, 1 / 120)
    res = solve_first_order_blockwise(blocks, loss, Y, w, 1e-1, tol=1e-3)
    assert res.status == "optimal"
    assert res.stop_criterion <= 1e-3
    # the stopping rule holds at the returned point: its objective is within tol of
    # the optimum computed by the conic solver
    ref = get_solver("cvxpy")(memory, loss, Y, w, 1e-1, tol=1e-8)
    assert res.objective <= ref.objective * (1 + 1e-3)
    assert res.objective >= ref.objective * (1 - 1e-2)  # feasible up to tol


# ------------------------------------------------------------- the estimators
_ESTIMATORS = [
    (ConvexThreeLayerRegressor, {}),
    (ConvexThreeLayerClassifier, {"loss": "hinge"}),
    (ConvexThreeLayerClassifier, {"loss": "cross_entropy", "classes": 3}),
]
#: a shorter polish than the default keeps the cluster tests quick; the path is the same
_SHORT = SeedSettings(polish_steps=40, polish_dtype=None)
#: the default single-precision polish: the same steps, sums in another order
_SHORT32 = SeedSettings(polish_steps=40)


def _labels(y, classes):
    if classes is None:
        return y
    return np.digitize(y, np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1]))


@pytest.mark.parametrize(
    "cls,params,options,rel",
    [(cls, params, _SHORT, 1e-9) for cls, params in _ESTIMATORS]
    + [(ConvexThreeLayerRegressor, {}, _SHORT32, 1e-5)],
)
def test_fit_on_local_cluster_equals_in_memory_fit(cluster, cls, params, options, rel):
    params = dict(params)
    classes = params.pop("classes", 2 if cls is ConvexThreeLayerClassifier else None)
    X, y = _teacher(480)
    y = _labels(y, classes)
    params.update(n_arrangements=3, width=4, random_state=0, solver_options=options)
    memory = cls(**params).fit(X, y)
    objective, pred = memory.objective_, memory.predict(X)
    Xd = da.from_array(X, chunks=(160, -1)).persist()
    fitted = cls(**params).fit(Xd, y)
    assert fitted.solver_ == "native:al-fista[dask]"
    assert fitted.solver_status_ == memory.solver_status_
    assert fitted.n_iter_ == memory.n_iter_
    assert fitted.objective_ == pytest.approx(objective, rel=rel)
    assert fitted.nonconvex_objective_ == pytest.approx(memory.nonconvex_objective_, rel=rel)
    assert fitted.n_subnetworks_ == memory.n_subnetworks_
    lazy = fitted.predict(Xd)
    assert isinstance(lazy, da.Array)
    if classes is None:
        np.testing.assert_allclose(lazy.compute(), pred, rtol=100 * rel, atol=1e-9)
    else:
        np.testing.assert_array_equal(lazy.compute(), pred)


def test_classifier_scores_on_dask_arrays_are_lazy(synchronous):
    X, y = _teacher(300)
    y = _labels(y, 3)
    clf = ConvexThreeLayerClassifier(
        loss="cross_entropy", n_arrangements=3, width=3, random_state=0
    ).fit(X, y)
    Xd = da.from_array(X, chunks=(100, -1))
    for method in ("decision_function", "predict_proba", "predict"):
        lazy = getattr(clf, method)(Xd)
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), getattr(clf, method)(X), rtol=1e-12)


def test_fit_on_more_rows_than_the_sample(synchronous, monkeypatch):
    """Beyond ``sample_rows`` the configurations come from a sample; X is never
    computed on the client, and the objective is still the network's on every row."""
    X, y = _teacher(900)
    Xd = da.from_array(X, chunks=(200, -1))
    computed = []
    original = da.Array.compute

    def recording(self, *args, **kwargs):
        computed.append(self.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(da.Array, "compute", recording)
    monkeypatch.setattr(
        da.Array, "__array__", lambda *a, **k: pytest.fail("X was converted in memory")
    )
    reg = ConvexThreeLayerRegressor(
        n_arrangements=3,
        width=4,
        random_state=0,
        solver_options=[DaskSettings(sample_rows=250, block_elements=500), _SHORT],
    ).fit(Xd, y)
    assert (900, 4) not in computed and (250, 4) in computed
    monkeypatch.undo()
    Y = (y / reg.target_scale_)[:, None]
    w = np.full(900, 1 / 900)
    loss = make_loss("squared", 1)
    coefs = [c.copy() for c in reg.coefs_]
    coefs[1] /= np.sqrt(reg.target_scale_)
    coefs[2] /= np.sqrt(reg.target_scale_)
    intercepts = [b.copy() for b in reg.intercepts_]
    intercepts[2] = intercepts[2] / reg.target_scale_
    beta = reg.beta_ / reg.target_scale_
    own = network_objective(coefs, intercepts, X, Y, w, loss, beta) * reg.target_scale_**2
    assert reg.objective_ == pytest.approx(own, rel=1e-9)
    assert reg.objective_ <= reg.nonconvex_objective_ * (1 + 1e-12)
    assert reg.score(X, y) > 0.8


def test_float32_dask_input(synchronous):
    X, y = _teacher(300)
    Xd = da.from_array(X.astype(np.float32), chunks=(100, -1))
    reg = ConvexThreeLayerRegressor(n_arrangements=3, width=3, random_state=0).fit(Xd, y)
    assert reg.coefs_[0].dtype == np.float32
    assert reg.score(X.astype(np.float32), y) > 0.8


def test_dask_dataframe_input(synchronous):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = _teacher(200)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=2)
    reg = ConvexThreeLayerRegressor(n_arrangements=3, width=3, random_state=0).fit(frame, y)
    ref = ConvexThreeLayerRegressor(n_arrangements=3, width=3, random_state=0).fit(X, y)
    assert reg.objective_ == pytest.approx(ref.objective_, rel=1e-9)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "params,match",
    [
        ({"solver": "ipm"}, "in memory"),
        ({"solver": "cvxpy"}, "in memory"),
        ({"column_generation": 1}, "column_generation"),
        ({"arrangements": "nonconvex"}, "nonconvex"),
        ({"warm_start": True}, "warm_start"),
        ({"device": "cpu"}, "device"),
    ],
)
def test_options_a_dask_fit_does_not_take(params, match):
    X, y = _teacher(50)
    with pytest.raises(ValueError, match=match):
        ConvexThreeLayerRegressor(**params).fit(da.from_array(X, chunks=(25, -1)), y)


def test_bad_dask_inputs(synchronous):
    X, y = _teacher(60)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        ConvexThreeLayerRegressor().fit(da.from_array(bad, chunks=(30, -1)), y)
    with pytest.raises(ValueError, match="60 rows but y has 59"):
        ConvexThreeLayerRegressor().fit(da.from_array(X, chunks=(30, -1)), y[:-1])
    with pytest.raises(ValueError, match="2-dimensional"):
        ConvexThreeLayerRegressor().fit(da.from_array(X[:, 0], chunks=30), y)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        ConvexThreeLayerRegressor().fit(da.from_array(X, chunks=(30, -1)), y * np.nan)
    with pytest.raises(ValueError, match="sample_rows"):
        DaskSettings(sample_rows=0)
