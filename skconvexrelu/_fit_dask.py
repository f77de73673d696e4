"""A fit on a Dask array: the default pipeline with ``X`` left on the workers.

1. The configurations are made on a sample of rows brought to the client (at most
   ``DaskSettings.sample_rows``, every row when there are fewer): the seed network of
   ``arrangements="trained"`` is trained there, or random networks are drawn. Each
   configuration keeps the network that generates it.
2. The convex program on *all* rows is a :class:`~skconvexrelu._dask.BlockwiseProgram`:
   each block's patterns are computed from those networks where the block lives.
3. The first-order method runs on it with every data pass a Dask task per block
   (:func:`~skconvexrelu.solvers.first_order._blockwise.solve_first_order_blockwise`):
   from the seed network for a budget of steps by default, to ``tol`` otherwise.
4. A point that violates its cones is expressed on its own network's configurations, as
   in memory; the network is rebuilt and its objective computed by one more pass, and
   the seed network is returned instead when its objective is lower.

With at most ``sample_rows`` rows the fit is, step for step, the in-memory fit of the
same data (up to the order of floating-point sums), round-off columns dropped the same
way. The targets, the weights and the
outputs (``n x n_outputs`` numbers) are held on the client.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_array

from ._arrangements import drop_useless
from ._dask import (
    BlockConfigurations,
    BlockwiseProgram,
    as_dask_rows,
    is_dask_collection,
    slices,
)
from ._fit import DROP_FRACTION, FitOutcome, FitRun
from ._losses import make_loss
from ._nonconvex import network_configurations, to_mlp_layout
from ._program import ConvexProgram
from ._reconstruction import (
    drop_round_off,
    network_forward,
    network_penalty,
    reconstruct_network,
)
from ._seeding import blocks_from_network
from ._validation import check_feature_scale, check_fit_result
from .solvers.first_order._blockwise import solve_first_order_blockwise
from .solvers.settings import DaskSettings, settings_of

#: the solver a fit on a Dask array runs, as ``solver_`` reports it
BLOCKWISE_SOLVER = "native:al-fista[dask]"


def check_blockwise_setup(est):
    """Clear errors for the options a fit on a Dask array does not take."""
    what = None
    if est.solver in ("cvxpy", "ipm"):
        what = f"solver={est.solver!r} needs the data in memory; use 'auto' or 'al-fista'"
    elif est.device is not None:
        what = "device runs on in-memory torch tensors; use device=None"
    elif est.column_generation:
        what = "column_generation searches over all rows in memory; use 0"
    elif est.arrangements == "nonconvex":
        what = "arrangements='nonconvex' is not available; use 'trained' or 'random'"
    elif est.warm_start:
        what = "warm_start is not available; use warm_start=False"
    if what is not None:
        raise ValueError(
            f"A fit on a Dask array runs the first-order method blockwise: {what}."
        )


def _gathered(a):
    """A per-row input (targets, weights) as a NumPy array on the client."""
    if a is None:
        return None
    return np.asarray(a.compute() if is_dask_collection(a) else a)


def _checked_rows(X):
    """``X`` as a float Dask array in chunks of rows, every entry finite."""
    X = as_dask_rows(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-dimensional X, got shape {X.shape}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"X must have at least 2 rows and 1 column, got shape {X.shape}.")
    if not bool(np.isfinite(X).all().compute()):
        raise ValueError("Input X contains NaN or infinity.")
    return X


def _sample(X, settings, random_state):
    """``(rows, X[rows])``: every row when there are at most ``sample_rows``, else a
    uniform sample of that many (sorted), computed on the client."""
    n = X.shape[0]
    if n <= settings.sample_rows:
        return np.arange(n), np.asarray(X.compute())
    rs = random_state
    seed = rs.randint(2**31 - 1) if isinstance(rs, np.random.RandomState) else rs
    rows = np.sort(np.random.default_rng(seed).choice(n, settings.sample_rows, replace=False))
    return rows, np.asarray(X[rows].compute())


def _with_bias(X, fit_intercept):
    """``X~`` as a Dask array: ``X`` with a column of ones (one chunk across)."""
    if not fit_intercept:
        return X
    import dask.array as da

    ones = da.ones((X.shape[0], 1), chunks=(X.chunks[0], 1), dtype=X.dtype)
    return da.concatenate([X, ones], axis=1).rechunk({1: -1})


def _forward_rows(coefs, intercepts, Xb, elements):
    """The network's outputs on the block ``Xb``, by slices of about ``elements``
    hidden activations (bounded temporaries)."""
    parts = [np.zeros((0, coefs[2].shape[1]))]
    for sl in slices(len(Xb), coefs[0].shape[1], elements):
        parts.append(network_forward(coefs, intercepts, Xb[sl]))
    return np.concatenate(parts)


def network_outputs(X, coefs, intercepts, elements=2**19):
    """The network's outputs on the rows of the Dask array ``X``, on the client."""
    import dask

    tasks = [
        dask.delayed(_forward_rows)(coefs, intercepts, b, elements)
        for b in X.to_delayed().ravel()
    ]
    return np.concatenate(dask.compute(*tasks))


def dask_fit(est, X, y, sample_weight):
    """Fit the estimator ``est`` on the Dask array ``X`` (see the module's docstring)."""
    check_blockwise_setup(est)
    est._check_solver_setup()
    settings = settings_of(est.solver_options, DaskSettings)
    X = _checked_rows(X)
    y = check_array(_gathered(y), ensure_2d=False, dtype=None, input_name="y")
    n, d = X.shape
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}.")
    sw = _check_sample_weight(
        _gathered(sample_weight),
        np.empty((n, 0)),
        dtype=np.float64,
        ensure_non_negative=True,
    )
    if sw.sum() <= 0:
        raise ValueError("sample_weight must have a positive sum.")
    est.__dict__.pop("feature_names_in_", None)
    est.n_features_in_ = d
    Y, loss_name = est._encode_targets(y)
    w = sw / sw.sum()
    loss = make_loss(loss_name, Y.shape[1])
    rng = check_random_state(est.random_state)
    rows, Xs = _sample(X, settings, rng)
    check_feature_scale(Xs)
    scale = est._target_scale(Y, w)
    beta = est._resolved_beta(w)
    out = fit_blockwise(est, X, Xs, rows, Y / scale, w, loss, beta, rng, scale, settings)
    est._store(out, loss, Y.shape[1], scale, beta)
    est.__dict__.pop("_warm", None)  # warm starts need the patterns in memory
    return est


def fit_blockwise(est, X, Xs, rows, Y, w, loss, beta, rng, scale, settings):
    """Configurations on the sample ``Xs`` (rows ``rows`` of ``X``), the blockwise
    solve on every row, and the fitted network: a
    :class:`~skconvexrelu._fit.FitOutcome`."""
    fi = est.fit_intercept
    Xt_s = np.hstack([Xs, np.ones((len(Xs), 1), dtype=Xs.dtype)]) if fi else Xs
    fit = FitRun(
        Xt_s,
        Y[rows],
        w[rows] / w[rows].sum(),
        loss,
        beta,
        fi,
        est.width,
        rng,
        solver=est.solver,
        solver_options=est.solver_options,
        max_iter=est.max_iter,
        tol=est.tol,
        verbose=est.verbose,
        max_time=est.max_time,
        objective_scale=scale**2,
    )
    conf, _, _, seed_net, _ = fit.configurations(est.n_arrangements, est.arrangements, None)
    program = BlockwiseProgram(
        _with_bias(X, fi), conf, Y.shape[1], X.dtype, Xt_s, settings.block_elements
    )
    U0 = b0 = None
    if seed_net is not None:
        U0, b0 = blocks_from_network(seed_net, ConvexProgram(Xt_s, conf, Y.shape[1], X.dtype))
        fit.seed_point = (U0, b0)
    result = solve_first_order_blockwise(
        program,
        loss,
        Y,
        w,
        beta,
        fi,
        max_iter=fit.polish_budget(program) if fit.polish else est.max_iter,
        tol=est.tol,
        U0=U0,
        b0=b0,
        verbose=max(est.verbose - 1, 0),
        max_time=fit.remaining(),
        settings=fit.first_order_settings(from_seed=seed_net is not None),
        budget=fit.polish,
    )
    result.solver = BLOCKWISE_SOLVER
    fit.report(
        "solve",
        f"{result.solver} {result.status} after {result.n_iter} iterations, objective "
        f"{result.objective * scale**2:.6g}, stopping criterion {result.stop_criterion:.2g}",
    )
    data = (X, loss, Y, w, beta, fi, est.tol)
    if result.status == "budget":
        program, result.U = own_configurations_blockwise(program, result.U)
    out = network_of(program, result.U, result.intercept, *data)
    seed_objective = None
    if seed_net is not None:
        out, seed_objective = _keep_better_seed(out, seed_net, program, Xt_s, data)
    fit.report("done", f"objective {out[2] * scale**2:.6g}, {out[3][2].shape[0]} sub-networks")
    return FitOutcome(
        program=out[5],
        U=out[0],
        intercept=out[1],
        objective=out[2],
        coefs=out[3],
        intercepts=out[4],
        result=result,
        objective_path=[out[2]],
        seed_objective=seed_objective,
    )


def own_configurations_blockwise(program, U):
    """:func:`~skconvexrelu._seeding.own_configurations` on a blockwise program: the
    non-zero blocks of ``U`` become the generating networks of their own configurations
    (on which they satisfy every cone constraint); those whose second ReLU is never
    active are left out (one pass)."""
    norms = np.linalg.norm(U, axis=3).sum(axis=3)  # (o, 2, P)
    blocks = np.argwhere(norms > 0)
    d, m = U.shape[3], U.shape[4]
    W1 = np.stack([U[i, s, c] for i, s, c in blocks]) if len(blocks) else np.zeros((0, d, m))
    w2 = program.conf.signs[blocks[:, 2]].astype(float) if len(blocks) else np.zeros((0, m))
    signs = np.where(w2 >= 0, 1, -1).astype(np.int8)
    new = program.with_configurations(BlockConfigurations(signs, (W1.astype(np.float64), w2)))
    live = np.flatnonzero(new.active())
    new = new.subset(live)
    V = new.zeros()
    for k, (i, s, _) in enumerate(blocks[live]):
        V[i, s, k] = W1[live][k]
    return new, V


def network_of(program, U, intercept, X, loss, Y, w, beta, fit_intercept, tol):
    """``(U, intercept, objective, coefs, intercepts, program)`` of the point ``U``:
    round-off columns dropped, its rebuilt network and objective; when the point
    violates its cones the rebuilt network's own objective, with a warning (as
    :func:`~skconvexrelu._fit._finish`)."""
    budget = DROP_FRACTION * tol
    U = drop_round_off(program, U, intercept, loss, Y, w, beta, budget).astype(program.dtype)
    intercept = np.asarray(intercept, dtype=program.dtype)
    objective = program.objective(U, intercept, loss, Y, w, beta)
    coefs, intercepts = reconstruct_network(U, intercept, program.conf.signs, fit_intercept)
    check_fit_result(coefs, intercepts, objective, solver=BLOCKWISE_SOLVER)
    F = network_outputs(X, coefs, intercepts, program.block_elements)
    net_objective = loss.value(F, Y, w) + network_penalty(coefs, beta)
    if not abs(net_objective - objective) <= 1e-6 * max(abs(objective), 1e-12):
        warnings.warn(
            f"The solution of {BLOCKWISE_SOLVER} violates the cone constraints by "
            f"{program.cone_violation(U):.3g}, so the rebuilt network's objective "
            f"({net_objective:.6g}) differs from the convex objective ({objective:.6g}); "
            "objective_ is the network's. Use a smaller tol (e.g. tol=1e-8).",
            ConvergenceWarning,
            stacklevel=4,
        )
        objective = net_objective
    return U, intercept, float(objective), coefs, intercepts, program


def _keep_better_seed(out, seed_net, program, Xt_s, data):
    """``(out, seed objective)``: the seed network's objective on every row, and its own
    point instead of ``out`` when that is lower (it is feasible on its own
    configurations), as :meth:`~skconvexrelu._fit.FitRun.finish` does."""
    X, loss, Y, w, beta, fi, _ = data
    coefs, intercepts = to_mlp_layout(seed_net, fi)
    F = network_outputs(X, coefs, intercepts, program.block_elements)
    seed_objective = float(loss.value(F, Y, w) + network_penalty(coefs, beta))
    if seed_objective >= out[2]:
        return out, seed_objective
    conf = drop_useless(network_configurations(seed_net, Xt_s))
    sample = ConvexProgram(Xt_s, conf, Y.shape[1], program.dtype)
    U, b = blocks_from_network(seed_net, sample)
    seed_program = BlockwiseProgram(
        program.Xt, conf, Y.shape[1], program.dtype, Xt_s, program.block_elements
    )
    seed = network_of(seed_program, U, b, *data)
    return (seed if seed[2] < out[2] else out), seed_objective
