"""Reusable experiments: baselines on the bundled UCI data, the paper's Table 1 and Figure 4.

Every function returns plain Python structures (lists of dicts, dicts of lists and
floats) so that results can be printed, tested and stored without pandas. Plots use
matplotlib, imported only when a plot is asked for. The ``skconvexrelu`` command line
(:mod:`skconvexrelu._cli`) runs :func:`compare`, :func:`table1` and :func:`figure4`.

Conventions shared by all experiments (the paper's *regression framing*):

- the class number of a UCI data set is used as a real-valued target and the loss is
  the squared loss, so the convex program, Adam on the non-convex network and the
  rebuilt network all minimize the same objective;
- ``beta_paper`` is the weight decay of the paper's unnormalized objective; the package
  normalizes per sample, so every fit uses ``beta = beta_paper / n_train``;
- ``objective`` is that normalized training objective, ``train_loss`` its data term
  ``(1/n) sum 0.5 (f - y)^2`` and ``test_error`` the mean squared error on the test rows.
"""

from . import _compare, _table1
from ._beta_path import beta_path
from ._common import convex_regressor, uci_split
from ._compare import compare
from ._figure4 import figure4, synthetic_teacher
from ._plots import plot_beta_path, plot_comparison, plot_figure4
from ._table1 import table1
from ._tables import format_table

__all__ = [
    "COMPARE_DATASETS",
    "PAPER_TABLE1",
    "beta_path",
    "compare",
    "convex_regressor",
    "figure4",
    "format_table",
    "plot_beta_path",
    "plot_comparison",
    "plot_figure4",
    "synthetic_teacher",
    "table1",
    "uci_split",
]

# Assigned here (rather than imported) so that the documentation finds their comments.

#: Data sets of the default comparison: the three smallest bundled ones.
COMPARE_DATASETS = _compare.COMPARE_DATASETS

#: Table 1 of Ergen & Pilanci (2021): (SGD objective, convex objective, SGD test error,
#: convex test error), as printed in the paper.
PAPER_TABLE1 = _table1.PAPER_TABLE1
