"""Plots of the experiments' results (matplotlib, imported only when a plot is made)."""

import numpy as np


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def plot_comparison(rows, path=None):
    """Bar charts of :func:`compare`'s rows: objective, test error and fit time.

    Parameters
    ----------
    rows : list of dict
        The output of :func:`compare`.
    path : str or path-like or None, default=None
        Where to save the figure (PNG by extension).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lookup = {(r["dataset"], r["method"]): r for r in rows}
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
    panels = [
        ("objective", "training objective (MLPRegressor: n/a)", True),
        ("test_error", "test mean squared error", True),
        ("fit_time", "fit time (s)", True),
    ]
    x = np.arange(len(datasets))
    bar_w = 0.8 / max(len(methods), 1)
    for ax, (key, title, log) in zip(axes, panels, strict=True):
        for j, method in enumerate(methods):
            vals = [lookup.get((ds, method), {}).get(key) for ds in datasets]
            heights = [np.nan if v is None else v for v in vals]
            ax.bar(x + (j - (len(methods) - 1) / 2) * bar_w, heights, bar_w, label=method)
        ax.set_xticks(x, datasets, rotation=15)
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
    axes[-1].legend(title="method", fontsize="small")
    folds = sorted({r.get("fold", 0) for r in rows})
    fig.suptitle(
        "Convex program vs Adam vs MLPRegressor (regression framing, fold "
        f"{', '.join(map(str, folds))})"
    )
    return _save(fig, path)


def plot_figure4(result, path=None):
    """Plot :func:`figure4`'s result: one panel per ``K``, objective against time.

    Parameters
    ----------
    result : dict
        The output of :func:`figure4`.
    path : str or path-like or None, default=None
        Where to save the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    Ks = list(dict.fromkeys(r["K"] for r in result["runs"]))
    fig, axes = plt.subplots(
        1,
        len(Ks),
        figsize=(3.6 * len(Ks), 3.6),
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
    convex = result["convex"]
    n = len(result["y"])
    n_inits = len({r["init"] for r in result["runs"]})
    label = "SGD" if result["optimizer"] == "sgd" else "Adam"
    for ax, K in zip(axes[0], Ks, strict=True):
        for r in (r for r in result["runs"] if r["K"] == K):
            ax.plot(
                r["time"],
                r["objective"],
                lw=1,
                alpha=0.8,
                label=f"{label} init {r['init'] + 1}",
            )
        ax.axhline(convex["objective"], color="green", ls="--", lw=1)
        ax.plot(
            [convex["time"]], [convex["objective"]], "o", color="green", label="convex program"
        )
        ax.plot(
            [convex["time"]],
            [convex["reconstructed_objective"]],
            "x",
            color="red",
            ms=9,
            label="rebuilt network",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"K = {K}")
        ax.set_xlabel("time (s)")
    axes[0][0].set_ylabel("training objective (per sample)")
    axes[0][-1].legend(fontsize="x-small")
    fig.suptitle(
        f"Figure 4: {label} ({n_inits} initializations) vs the convex program, "
        f"n={n}, d={len(result['X'][0])}, m={result.get('width', '?')}, "
        f"beta={result['beta'] * n:g} (unnormalized)"
    )
    return _save(fig, path)


def plot_beta_path(rows, path=None):
    """Number of sub-networks and training objective along ``beta`` (:func:`beta_path`).

    Parameters
    ----------
    rows : list of dict
        The output of :func:`beta_path`.
    path : str or path-like or None, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    betas = [r["beta"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.semilogx(betas, [r["n_subnetworks"] for r in rows], "o-", color="C0")
    ax.set_xlabel("beta (per sample)")
    ax.set_ylabel("sub-networks K*", color="C0")
    ax2 = ax.twinx()
    ax2.semilogx(betas, [r["objective"] for r in rows], "s--", color="C1")
    ax2.set_ylabel("training objective", color="C1")
    ax.set_title("Sparsity chooses the architecture")
    return _save(fig, path)
