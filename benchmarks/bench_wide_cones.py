"""What the convex program is at the Fashion-MNIST shape: cones too narrow to move in.

With ``n = 60,000`` samples in ``d~ = 785`` dimensions, the cone of a sampled first-layer
neuron (the directions ``u`` with the sign pattern ``D1`` of the sampled weight ``h`` on
every sample) is a needle around ``h``: this script measures its half-width along random
directions orthogonal to ``h``. Inside such needles the program is, up to that width, a
regression on the sampled sub-networks' own outputs: each block can only rescale the
network it was sampled from. The script prints

- the objective of the constant (mean) model;
- the program's objective at the best such rescaling (a feasible point: the cone
  violation is checked, so it is an upper bound on the program's optimum), solved
  exactly as a lasso on the ``P`` sub-network outputs (scikit-learn's ``Lasso``);
- the same lasso on the ``P m`` neurons' masked outputs without the second-layer
  constraints: up to the needles' width, a lower bound on the program's optimum;
- a run of the first-order method (``native:al-fista``, the solver that
  ``solver="native"`` picks at this shape) for ``--max-time`` seconds: the convex
  objective at its point, the relative cone violation, the share of (sample, neuron)
  pairs whose sign differs from ``D1``, the mean cosine between its columns and the
  sampled directions, the mean cosine between the ``sigma = +1`` and ``sigma = -1``
  copies of a column, and the training objective of the rebuilt network.

Examples
--------
    python benchmarks/bench_wide_cones.py                 # program of bench_first_order.py
    python benchmarks/bench_wide_cones.py --data scaling  # bench_scaling.py --fashion data
    python benchmarks/bench_wide_cones.py --n 6000 --max-time 30
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _problem(args):
    sys.path.insert(0, HERE)
    from skconvexrelu._arrangements import sample_configurations

    if args.data == "scaling":
        from bench_scaling import _data

        X, y = _data(args.n, args.d)
        seed = 0
    else:
        from bench_native_vs_cvxpy import teacher_data

        X, y = teacher_data(args.n, args.d, 5, seed=1)
        seed = 1
    Xt = np.hstack([X, np.ones((args.n, 1))])
    conf, W1, w2 = sample_configurations(Xt, 5, 20, random_state=seed, return_networks=True)
    return Xt, y, conf, W1, w2


def needle_width(Xt, h, rng, n_directions=5):
    """Largest ``eps`` with ``sign(Xt (h + eps v)) = sign(Xt h)`` for random unit
    ``v`` orthogonal to ``h``, as angles ``eps / ||h||`` (median and largest)."""
    a = Xt @ h
    angles = []
    for _ in range(n_directions):
        v = rng.standard_normal(h.shape[0])
        v -= (v @ h) / (h @ h) * h
        v /= np.linalg.norm(v)
        b = Xt @ v
        with np.errstate(divide="ignore"):
            r = -a / b
        eps = r[r > 0].min() if np.any(r > 0) else np.inf
        angles.append(eps / np.linalg.norm(h))
    return float(np.median(angles)), float(np.max(angles))


def rescaling_point(program, Xt, y, W1, w2, beta):
    """The best rescaling of the sampled sub-networks: ``(U, b)`` of the program."""
    from sklearn.linear_model import Lasso

    H = np.maximum(np.einsum("nd,pdm->npm", Xt, W1), 0.0)
    phi = np.maximum(np.einsum("npm,pm->np", H, w2), 0.0)  # each sub-network's output
    pen = np.einsum("pm,pm->p", np.abs(w2), np.linalg.norm(W1, axis=1))
    # (1/2n)||phi t + b - y||^2 + beta sum_p pen_p |t_p| = sklearn's lasso on phi / pen
    lasso = Lasso(alpha=beta, tol=1e-12, max_iter=100_000).fit(phi / pen, y)
    t = lasso.coef_ / pen
    U = program.zeros()
    cols = np.abs(w2)[:, None, :] * W1  # (P, d~, m): the block of t = 1
    U[0, 0] = np.maximum(t, 0.0)[:, None, None] * cols
    U[0, 1] = np.maximum(-t, 0.0)[:, None, None] * cols
    return U, np.array([lasso.intercept_]), H


def neuron_relaxation(conf, H, y, W1, beta):
    """The lasso on the neurons' masked outputs ``s_j D2 relu(Xt h_j)`` without the
    second-layer constraints (each column on its sampled ray)."""
    from sklearn.linear_model import Lasso

    n, P, m = H.shape
    F = (conf.D2[:, :, None] * H * conf.signs[None]).reshape(n, P * m)
    pen = np.linalg.norm(W1, axis=1).reshape(P * m)
    lasso = Lasso(alpha=beta, tol=1e-12, max_iter=100_000).fit(F / pen, y)
    f = lasso.predict(F / pen)
    return 0.5 * np.mean((f - y) ** 2) + beta * np.sum(np.abs(lasso.coef_))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="first-order", choices=["first-order", "scaling"])
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--beta", type=float, default=1e-3)
    parser.add_argument("--max-time", type=float, default=120.0)
    parser.add_argument("--dtype", default="float32", choices=["float64", "float32"])
    args = parser.parse_args(argv)

    from skconvexrelu._losses import make_loss
    from skconvexrelu._program import ConvexProgram
    from skconvexrelu._reconstruction import network_objective, reconstruct_network
    from skconvexrelu.solvers.first_order import solve_first_order

    t0 = time.perf_counter()
    Xt, y, conf, W1, w2 = _problem(args)
    n, beta = args.n, args.beta
    Y = y[:, None]
    w = np.full(n, 1.0 / n)
    loss = make_loss("squared", 1)
    program = ConvexProgram(Xt, conf, 1)
    print(
        f"data {args.data}: n = {n}, d~ = {Xt.shape[1]}, width 5, 20 configurations, "
        f"beta = {beta:g} (built in {time.perf_counter() - t0:.1f} s)"
    )
    print(f"  constant (mean) model                     {0.5 * np.var(y):.6g}")

    rng = np.random.default_rng(0)
    widths = [needle_width(Xt, W1[p][:, j], rng) for p in range(3) for j in range(2)]
    med = np.median([a for a, _ in widths])
    top = max(b for _, b in widths)
    print(
        f"  needle half-width (angle, 6 neurons x 5 random directions): median "
        f"{med:.2e}, largest {top:.2e}"
    )

    U, b, H = rescaling_point(program, Xt, y, W1, w2, beta)
    obj = program.objective(U, b, loss, Y, w, beta)
    print(
        f"  best rescaling of the sampled networks    {obj:.6g} "
        f"(cone violation {max(program.cone_violation(U), 0.0) + 0.0:.1e}: an upper bound)"
    )
    relax = neuron_relaxation(conf, H, y, W1, beta)
    print(
        f"  neurons on their rays, no 2nd-layer rows   {relax:.6g}"
        " (a lower bound up to the needles' width)"
    )

    dtype = np.float32 if args.dtype == "float32" else np.float64
    prog_f = ConvexProgram(Xt.astype(dtype), conf, 1, dtype=dtype)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = solve_first_order(
            prog_f, loss, Y, w, beta, max_iter=10**9, tol=1e-6, max_time=args.max_time
        )
    elapsed = time.perf_counter() - t0
    Ua = np.asarray(res.U, dtype=np.float64)
    ba = np.asarray(res.intercept, dtype=np.float64)
    Z = np.einsum("nd,psdm->npsm", Xt, Ua[0].transpose(1, 0, 2, 3))  # (n, P, 2, m)
    live = np.linalg.norm(Ua[0], axis=2) > 1e-9 * np.abs(Ua).max()  # (2, P, m)
    wrong = (Z >= 0) != conf.D1[:, :, None, :]
    if not live.any():  # the zero point: nothing to describe
        live = np.ones_like(live)
    wrong_share = wrong[:, live.transpose(1, 0, 2)].mean()
    h = W1 / np.linalg.norm(W1, axis=1, keepdims=True)  # (P, d~, m)
    un = Ua[0] / np.maximum(np.linalg.norm(Ua[0], axis=2, keepdims=True), 1e-300)
    cos_h = np.einsum("spdm,pdm->spm", un, h)[live].mean()
    both = live[0] & live[1]
    cos_pm = np.einsum("pdm,pdm->pm", un[0], un[1])[both].mean() if both.any() else np.nan
    coefs, intercepts = reconstruct_network(Ua, ba, conf.signs, True)
    net = network_objective(coefs, intercepts, Xt[:, :-1], Y, w, loss, beta)
    print(f"  al-fista, {args.dtype}, {elapsed:.0f} s, {res.n_iter} steps ({res.status}):")
    print(f"    convex objective at its point           {res.objective:.6g}")
    rel = max(program.cone_violation(Ua), 0.0) / max(np.abs(Z).max(), 1e-300)
    print(f"    cone violation / max |X~ u|             {rel:.1e}")
    print(f"    (sample, neuron) signs differing from D1 {100 * wrong_share:.2f} %")
    print(f"    mean cos(column, sampled direction)     {cos_h:.4f}")
    print(f"    mean cos(sigma=+1 column, sigma=-1 one)  {cos_pm:.4f} ({both.sum()} pairs)")
    print(f"    rebuilt network's training objective     {net:.6g}")
    return dict(
        mean_model=0.5 * np.var(y),
        needle=(med, top),
        rescaling=obj,
        rescaling_violation=program.cone_violation(U),
        relaxation=relax,
        al_fista=res.objective,
        al_fista_violation=rel,
        wrong_signs=wrong_share,
        network=net,
    )


if __name__ == "__main__":
    main()
