"""The ``skconvexrelu`` command line: ``compare`` (default), ``table1`` and ``figure4``."""

import argparse
import sys
import time

from . import __version__
from .datasets import UCI_DATASETS

COMMANDS = ("compare", "table1", "figure4")

_DESCRIPTION = """\
Train three-layer ReLU networks to global optimality through the convex program of
Ergen & Pilanci (ICML 2021), and compare with gradient training.

Without a command, runs 'compare' with its defaults (well under a minute on 2 cores).
"""

_FRAMING = (
    "Regression framing (as in the paper's Table 1): class numbers are real targets, "
    "squared loss.\nobjective = (1/n) sum_i 0.5 (f(x_i) - y_i)^2 + (beta/2) sum_k "
    "(||w2_k||^2 + w3_k^2), ||W1_k||_F <= 1, beta = beta_paper / n_train;\n"
    "train_loss = its data term, test_error = test mean squared error, "
    "fit_time in seconds."
)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _nonnegative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _add_common(parser, output_default):
    parser.add_argument(
        "--beta-paper",
        type=_positive_float,
        default=None,
        metavar="BETA",
        help="weight decay of the paper's unnormalized objective; each fit uses "
        "BETA / n_train (default: 0.1 for compare and table1, 0.002 for figure4)",
    )
    parser.add_argument(
        "--width",
        type=_positive_int,
        default=None,
        help="first-layer width m of every sub-network (default: 7; 3 for figure4)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar and no explanatory text"
    )
    if output_default is not None:
        parser.add_argument(
            "--output",
            "-o",
            default=output_default,
            metavar="PATH",
            help=f"where to write the PNG plot (default: {output_default})",
        )
        parser.add_argument("--no-plot", action="store_true", help="do not write a plot")


def _add_convex(parser, n_arrangements_default):
    group = parser.add_argument_group(
        "convex estimator",
        "Options passed to ConvexThreeLayerRegressor. The ones marked 'if supported' "
        "exist only in versions of the estimator that have that parameter; using them "
        "with an older one is an error.",
    )
    group.add_argument(
        "--n-arrangements",
        type=_positive_int,
        default=n_arrangements_default,
        metavar="P",
        help=f"sampled configurations of the convex program (default: "
        f"{n_arrangements_default})",
    )
    group.add_argument(
        "--solver",
        choices=("auto", "cvxpy", "native", "ipm", "al-fista"),
        default=None,
        help="solver of the convex program (default: the estimator's, 'auto')",
    )
    group.add_argument(
        "--arrangements",
        choices=("random", "nonconvex"),
        default=None,
        help="how configurations are chosen: random sampling, or seeded from an "
        "Adam-trained network (if supported)",
    )
    group.add_argument(
        "--column-generation",
        type=_nonnegative_int,
        default=None,
        metavar="ROUNDS",
        help="rounds of column generation (if supported)",
    )
    group.add_argument(
        "--arrangements-per-round",
        type=_positive_int,
        default=None,
        metavar="N",
        help="configurations added per column-generation round (if supported)",
    )
    group.add_argument(
        "--max-arrangements",
        type=_positive_int,
        default=None,
        metavar="P",
        help="upper limit on the configurations column generation may reach (if supported)",
    )
    group.add_argument(
        "--max-time",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="time limit of one convex fit (if supported)",
    )


def _convex_params(args):
    keys = (
        "solver",
        "arrangements",
        "column_generation",
        "arrangements_per_round",
        "max_arrangements",
        "max_time",
    )
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}


def build_parser():
    """The argument parser of the ``skconvexrelu`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="skconvexrelu",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'skconvexrelu COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "compare",
        help="convex fit vs Adam vs MLPRegressor on small UCI data sets (default)",
        description="Fit, on a predefined train/test fold of each data set, the convex "
        "estimator, projected Adam on the non-convex network of the same architecture "
        "and objective (K sub-networks), and scikit-learn's MLPRegressor; print a table "
        "and write a bar plot. Unless told otherwise, the convex fit is seeded with the "
        "configurations of an Adam-trained network and runs one round of column "
        "generation (when the estimator supports them). " + _FRAMING.replace("\n", " "),
    )
    _add_common(p, "skconvexrelu-comparison.png")
    p.add_argument(
        "--datasets",
        nargs="+",
        choices=UCI_DATASETS,
        metavar="NAME",
        default=["acute-inflammation", "balloons", "fertility"],
        help="bundled UCI data sets (default: acute-inflammation balloons fertility; "
        f"choices: {', '.join(UCI_DATASETS)})",
    )
    p.add_argument(
        "--fold",
        type=int,
        choices=range(4),
        default=0,
        help="predefined fold used as train/test split (default: 0)",
    )
    p.add_argument(
        "--K",
        type=_positive_int,
        default=10,
        dest="n_subnetworks",
        metavar="K",
        help="sub-networks of the Adam baseline (default: 10)",
    )
    p.add_argument(
        "--adam-steps",
        type=_positive_int,
        default=2000,
        help="Adam steps per initialization (default: 2000)",
    )
    p.add_argument(
        "--adam-restarts",
        type=_positive_int,
        default=3,
        help="Adam initializations, best kept (default: 3)",
    )
    p.add_argument(
        "--mlp-max-iter",
        type=_positive_int,
        default=1000,
        help="max_iter of MLPRegressor (default: 1000)",
    )
    p.add_argument(
        "--format",
        choices=("text", "rst"),
        default="text",
        help="table format (default: text)",
    )
    _add_convex(p, 20)

    p = sub.add_parser(
        "table1",
        help="the paper's Table 1 on the six bundled UCI data sets",
        description="Best of several Adam runs (K=10, width 7, mini-batches of n/8) "
        "against the convex fit (seeded with an Adam network and grown by column "
        "generation when the estimator supports it) on the six data sets of the "
        "paper's Table 1; prints training objective and test error next to the "
        "paper's numbers. " + _FRAMING.replace("\n", " "),
    )
    _add_common(p, None)
    p.add_argument(
        "--datasets",
        nargs="+",
        choices=UCI_DATASETS,
        metavar="NAME",
        default=list(UCI_DATASETS),
        help="data sets (default: all six)",
    )
    p.add_argument(
        "--fold",
        type=int,
        choices=range(4),
        default=0,
        help="predefined fold used as train/test split (default: 0)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="fast version: 2 Adam runs of 500 steps, 10 random "
        "configurations, no column generation",
    )
    p.add_argument(
        "--restarts",
        type=_positive_int,
        default=5,
        help="Adam initializations, best kept (default: 5)",
    )
    p.add_argument(
        "--adam-steps",
        type=_positive_int,
        default=3000,
        help="Adam steps per initialization (default: 3000)",
    )
    p.add_argument(
        "--format",
        choices=("text", "rst"),
        default="text",
        help="table format (default: text)",
    )
    _add_convex(p, 20)

    p = sub.add_parser(
        "figure4",
        help="the paper's Figure 4: objective vs time, SGD/Adam vs the convex optimum",
        description="Synthetic data (n=5, d=2, teacher of width 3 with 5 sub-networks); "
        "train the non-convex network with K sub-networks from 5 initializations and "
        "plot the objective over time next to the convex program's optimum and the "
        "objective of its rebuilt network.",
    )
    _add_common(p, "skconvexrelu-figure4.png")
    p.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default="adam",
        help="projected full-batch gradient descent or projected Adam (default: adam)",
    )
    p.add_argument(
        "--K",
        type=_positive_int,
        nargs="+",
        default=[1, 2, 5, 10],
        dest="n_subnetworks",
        metavar="K",
        help="values of K, one panel each (default: 1 2 5 10)",
    )
    p.add_argument(
        "--inits", type=_positive_int, default=5, help="initializations per K (default: 5)"
    )
    p.add_argument(
        "--steps", type=_positive_int, default=2000, help="steps per run (default: 2000)"
    )
    p.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        help="step size (default: 0.5 for sgd, 0.01 for adam)",
    )
    _add_convex(p, 300)
    return parser


def _normalize_argv(argv):
    """Insert the default command when none is given."""
    argv = list(argv)
    if not argv:
        return ["compare"]
    if argv[0] in ("-h", "--help", "--version") or argv[0] in COMMANDS:
        return argv
    return ["compare", *argv]


def _plot(func, data, path, quiet):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = func(data, path=path)
    plt.close(fig)
    if not quiet:
        print(f"\nwrote {path}")


def _run_compare(args):
    from .experiments import compare, format_table, plot_comparison

    rows = compare(
        datasets=args.datasets,
        beta_paper=0.1 if args.beta_paper is None else args.beta_paper,
        width=7 if args.width is None else args.width,
        n_subnetworks=args.n_subnetworks,
        n_arrangements=args.n_arrangements,
        adam_steps=args.adam_steps,
        adam_restarts=args.adam_restarts,
        mlp_max_iter=args.mlp_max_iter,
        fold=args.fold,
        random_state=args.seed,
        convex_params=_convex_params(args),
        progress=not args.quiet,
    )
    if not args.quiet:
        print(_FRAMING + "\n")
    columns = [
        "dataset",
        "method",
        "objective",
        "train_loss",
        "test_error",
        "fit_time",
        "n_subnetworks",
        "certificate_gap",
    ]
    headers = [
        "dataset",
        "method",
        "objective",
        "train loss",
        "test MSE",
        "time (s)",
        "sub-nets",
        "gap",
    ]
    print(format_table(rows, columns, headers, style=args.format))
    if not args.quiet:
        print("\nnotes:")
        for r in rows:
            print(f"  {r['dataset']} / {r['method']}: {r['note']}")
        print(
            "  sub-nets: sub-networks whose output is not identically zero "
            "(MLPRegressor is dense: n/a)"
        )
        print(
            "  gap: convex objective minus a lower bound on the global optimum, from "
            "column generation's dual point (certain for the configurations searched)"
        )
    if not args.no_plot:
        _plot(plot_comparison, rows, args.output, args.quiet)


def _run_table1(args):
    from .experiments import format_table, table1

    rows = table1(
        datasets=args.datasets,
        beta_paper=0.1 if args.beta_paper is None else args.beta_paper,
        width=7 if args.width is None else args.width,
        n_restarts=args.restarts,
        adam_steps=args.adam_steps,
        n_arrangements=args.n_arrangements,
        quick=args.quick,
        fold=args.fold,
        random_state=args.seed,
        convex_params=_convex_params(args),
        progress=not args.quiet,
    )
    for r in rows:
        paper = r["paper"] or (None,) * 4
        r["paper_sgd"], r["paper_convex"] = paper[0], paper[1]
    if not args.quiet:
        print(_FRAMING)
        print(
            "Adam: best of the runs by training objective; paper: the numbers printed "
            "in Table 1 (SGD, convex objective).\n"
        )
    columns = [
        "dataset",
        "n",
        "d",
        "adam_objective",
        "convex_objective",
        "adam_test_error",
        "convex_test_error",
        "adam_time",
        "convex_time",
        "convex_n_subnetworks",
        "arrangements",
        "certificate_gap",
        "paper_sgd",
        "paper_convex",
    ]
    headers = [
        "dataset",
        "n",
        "d",
        "obj Adam",
        "obj convex",
        "test Adam",
        "test convex",
        "t Adam",
        "t convex",
        "K*",
        "arrangements",
        "gap",
        "paper SGD",
        "paper cvx",
    ]
    print(format_table(rows, columns, headers, style=args.format))


def _run_figure4(args):
    from .experiments import figure4, plot_figure4

    result = figure4(
        width=3 if args.width is None else args.width,
        beta_paper=0.002 if args.beta_paper is None else args.beta_paper,
        n_subnetworks=args.n_subnetworks,
        n_inits=args.inits,
        optimizer=args.optimizer,
        n_steps=args.steps,
        learning_rate=args.learning_rate,
        n_arrangements=args.n_arrangements,
        convex_params=_convex_params(args),
        random_state=args.seed,
        progress=not args.quiet,
    )
    convex = result["convex"]
    print(
        f"convex program: objective {convex['objective']:.6g} in {convex['time']:.2f} s "
        f"({convex['n_subnetworks']} sub-networks, {convex['solver']}); rebuilt network: "
        f"{convex['reconstructed_objective']:.6g}"
    )
    for K in dict.fromkeys(r["K"] for r in result["runs"]):
        finals = [r["final"] for r in result["runs"] if r["K"] == K]
        print(
            f"K = {K:3d}: best objective per initialization "
            + " ".join(f"{v:.4g}" for v in finals)
        )
    if not args.no_plot:
        _plot(plot_figure4, result, args.output, args.quiet)


def main(argv=None):
    """Entry point of ``skconvexrelu`` and ``python -m skconvexrelu``.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments (default: ``sys.argv[1:]``). With none, runs ``compare``.

    Returns
    -------
    status : int
        0 on success, 2 when the arguments are not usable by this installation.
    """
    parser = build_parser()
    args = parser.parse_args(_normalize_argv(sys.argv[1:] if argv is None else argv))
    run = {"compare": _run_compare, "table1": _run_table1, "figure4": _run_figure4}
    start = time.perf_counter()
    try:
        run[args.command](args)
    except ValueError as exc:
        if "has no parameter" not in str(exc):
            raise
        parser.error(str(exc))
    if not args.quiet:
        print(f"done in {time.perf_counter() - start:.1f} s")
    return 0
