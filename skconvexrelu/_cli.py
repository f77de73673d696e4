"""The ``skconvexrelu`` command line: ``compare`` (default), ``table1`` and ``figure4``."""

import argparse
import sys
import time

from . import __version__
from .datasets import UCI_DATASETS
from .experiments import (
    COMPARE_DATASETS,
    compare,
    figure4,
    format_table,
    plot_comparison,
    plot_figure4,
    table1,
)
from .experiments._common import UnknownParameterError

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


def _add_data(parser, default, default_text):
    """``--datasets``, ``--fold`` and ``--format`` of the commands on UCI data."""
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=UCI_DATASETS,
        metavar="NAME",
        default=list(default),
        help=f"bundled UCI data sets (default: {default_text}; "
        f"choices: {', '.join(UCI_DATASETS)})",
    )
    parser.add_argument(
        "--fold",
        type=int,
        choices=range(4),
        default=0,
        help="predefined fold used as train/test split (default: 0)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "rst"),
        default="text",
        help="table format (default: text)",
    )


def _add_convex(parser, defaults):
    """Options of the convex estimator; ``defaults`` holds the command's own defaults
    of ``n_arrangements``, ``arrangements`` and ``column_generation``."""
    group = parser.add_argument_group(
        "convex estimator",
        "Options passed to ConvexThreeLayerRegressor (see its documentation). An option "
        "left out keeps the default given here.",
    )
    group.add_argument(
        "--n-arrangements",
        type=_positive_int,
        default=defaults["n_arrangements"],
        metavar="P",
        help="configurations sampled at random for the convex program, besides the "
        f"seeded ones of '--arrangements nonconvex' (default: {defaults['n_arrangements']})",
    )
    group.add_argument(
        "--solver",
        choices=("auto", "cvxpy", "native", "ipm", "al-fista"),
        default=None,
        help="solver of the convex program (default: 'auto')",
    )
    group.add_argument(
        "--arrangements",
        choices=("random", "nonconvex"),
        default=None,
        help="'random': only sampled configurations; 'nonconvex': also those of an "
        f"Adam-trained network (default: {defaults['arrangements']})",
    )
    group.add_argument(
        "--column-generation",
        type=_nonnegative_int,
        default=None,
        metavar="ROUNDS",
        help="rounds of column generation: each adds up to N configurations "
        "(--arrangements-per-round) that violate the optimality conditions, and yields "
        f"a lower bound on the optimum (default: {defaults['column_generation']})",
    )
    group.add_argument(
        "--arrangements-per-round",
        type=_positive_int,
        default=None,
        metavar="N",
        help="configurations added per column-generation round (default: 10)",
    )
    group.add_argument(
        "--max-arrangements",
        type=_positive_int,
        default=None,
        metavar="P",
        help="upper limit on the configurations column generation may reach (default: none)",
    )
    group.add_argument(
        "--max-time",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="time limit of one convex fit (default: none)",
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


def _add_compare_parser(sub):
    p = sub.add_parser(
        "compare",
        help="convex fit vs Adam vs MLPRegressor on small UCI data sets (default)",
        description="Fit, on a predefined train/test fold of each data set, the convex "
        "estimator, projected Adam on the non-convex network of the same architecture "
        "and objective (K sub-networks), and scikit-learn's MLPRegressor; print a table "
        "and write a bar plot. Unless told otherwise, the convex fit is seeded with the "
        "configurations of an Adam-trained network and runs one round of column "
        "generation. " + _FRAMING.replace("\n", " "),
    )
    _add_common(p, "skconvexrelu-comparison.png")
    _add_data(p, COMPARE_DATASETS, " ".join(COMPARE_DATASETS))
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
    defaults = {"n_arrangements": 20, "arrangements": "nonconvex", "column_generation": 1}
    _add_convex(p, defaults)


def _add_table1_parser(sub):
    p = sub.add_parser(
        "table1",
        help="the paper's Table 1 on the six bundled UCI data sets",
        description="The paper's Table 1 on its six data sets (a predefined fold as "
        "train/test split). Adam trains the non-convex network (K=10 sub-networks of "
        "width 7, mini-batches of n/8) from several initializations and keeps the "
        "best. The convex fit starts from the configurations of a separately "
        "Adam-trained network plus, by default, 20 random ones, and column generation "
        "adds up to 10 more in each of 5 rounds. For each data set the table shows the "
        "training objective, test error and fit time of both, the number K* of "
        "sub-networks of the convex solution, how its configurations were chosen, the "
        "gap between its objective and a lower bound on the optimum (from column "
        "generation), and the objectives of SGD and of the convex program printed in "
        "the paper. " + _FRAMING.replace("\n", " "),
    )
    _add_common(p, None)
    _add_data(p, UCI_DATASETS, "all six")
    p.add_argument(
        "--quick",
        action="store_true",
        help="fast version: at most 2 Adam runs of at most 500 steps; the convex fit "
        "starts from an Adam network's configurations plus at most 10 random ones, "
        "without column generation",
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
    defaults = {"n_arrangements": 20, "arrangements": "nonconvex", "column_generation": 5}
    _add_convex(p, defaults)


def _add_figure4_parser(sub):
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
    defaults = {"n_arrangements": 300, "arrangements": "random", "column_generation": 0}
    _add_convex(p, defaults)


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
    _add_compare_parser(sub)
    _add_table1_parser(sub)
    _add_figure4_parser(sub)
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


#: (key, header) of the columns of the ``compare`` table.
_COMPARE_COLUMNS = (
    ("dataset", "dataset"),
    ("method", "method"),
    ("objective", "objective"),
    ("train_loss", "train loss"),
    ("test_error", "test MSE"),
    ("fit_time", "time (s)"),
    ("n_subnetworks", "sub-nets"),
    ("certificate_gap", "gap"),
)

#: (key, header) of the columns of the ``table1`` table.
_TABLE1_COLUMNS = (
    ("dataset", "dataset"),
    ("n", "n"),
    ("d", "d"),
    ("adam_objective", "obj Adam"),
    ("convex_objective", "obj convex"),
    ("adam_test_error", "test Adam"),
    ("convex_test_error", "test convex"),
    ("adam_time", "t Adam"),
    ("convex_time", "t convex"),
    ("convex_n_subnetworks", "K*"),
    ("arrangements", "arrangements"),
    ("certificate_gap", "gap"),
    ("paper_sgd", "paper SGD"),
    ("paper_convex", "paper cvx"),
)


def _print_table(rows, columns, style):
    keys, headers = zip(*columns, strict=True)
    print(format_table(rows, list(keys), list(headers), style=style))


def _print_compare_notes(rows):
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


def _run_compare(args):
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
    _print_table(rows, _COMPARE_COLUMNS, args.format)
    if not args.quiet:
        _print_compare_notes(rows)
    if not args.no_plot:
        _plot(plot_comparison, rows, args.output, args.quiet)


def _run_table1(args):
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
    _print_table(rows, _TABLE1_COLUMNS, args.format)


def _run_figure4(args):
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
        0 on success. Invalid arguments, including a parameter the estimator does not
        have, exit with argparse's usage error (status 2).
    """
    parser = build_parser()
    args = parser.parse_args(_normalize_argv(sys.argv[1:] if argv is None else argv))
    run = {"compare": _run_compare, "table1": _run_table1, "figure4": _run_figure4}
    start = time.perf_counter()
    try:
        run[args.command](args)
    except UnknownParameterError as exc:
        parser.error(str(exc))
    if not args.quiet:
        print(f"done in {time.perf_counter() - start:.1f} s")
    return 0
