"""Loader for the small UCI classification data sets bundled with the package.

The files under ``data/uci/<name>/`` are the preprocessed versions distributed by
Fernandez-Delgado et al. (JMLR 2014); ``data/SOURCES.md`` records where each file came
from and how it is laid out.
"""

import io
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["UCI_DATASETS", "load_uci"]

UCI_DATASETS = (
    "acute-inflammation",
    "acute-nephritis",
    "balloons",
    "breast-tissue",
    "fertility",
    "pittsburg-bridges-SPAN",
)

# Name of the label column in the header of ``<name>_R.dat``.
_TARGET_COLUMN = "clase"

_DESCR_TEMPLATE = """\
UCI data set {name!r} (as preprocessed by Fernandez-Delgado et al., 2014)
--------------------------------------------------------------------------
Samples: {n}   Features: {d}   Classes: {n_classes} (numbered 0..{last})
Class counts: {counts}

Every feature was turned into a number and standardized over the whole data set (mean 0,
sample standard deviation 1, ddof=1) upstream; the values are used as distributed.

``validation_split`` is the upstream 50/50 (train, validation) split of conxuntos.dat.
``folds`` holds the 4 (train, test) pairs of conxuntos_kfold.dat. Caveat: each pair
partitions the rows about 75/25, but the 4 test sets OVERLAP and need not cover every row;
they are 4 random 75/25 splits, not a 4-fold cross-validation partition.

Source: the "121 UCI data sets" collection of M. Fernandez-Delgado, E. Cernadas, S. Barro
and D. Amorim, "Do we need hundreds of classifiers to solve real world classification
problems?", JMLR 15:3133-3181, 2014, built from the UCI Machine Learning Repository.
Provenance of each file (commit, path, git blob): skconvexrelu/datasets/data/SOURCES.md.
"""


def _data_dir(name):
    return resources.files("skconvexrelu.datasets").joinpath("data", "uci", name)


def _read_text(name, filename):
    return _data_dir(name).joinpath(filename).read_text(encoding="ascii")


def _parse_metadata(text):
    """Parse the ``key= value`` lines of the upstream ``<name>.txt`` file."""
    meta = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            meta[key.strip()] = value.strip()
    return meta


def _parse_index_lines(text, n_lines, n_samples, filename):
    """Read ``n_lines`` lines of 0-based, space-separated row indices."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != n_lines:
        raise ValueError(
            f"{filename}: expected {n_lines} lines of indices, found {len(lines)}"
        )
    out = []
    for line in lines:
        idx = np.array(line.split(), dtype=np.intp)
        if idx.size and (idx.min() < 0 or idx.max() >= n_samples):
            raise ValueError(f"{filename}: row index out of range 0..{n_samples - 1}")
        out.append(idx)
    return out


def _read_table(name):
    """Features, integer labels and feature names from ``<name>_R.dat``.

    The header starts with a tab (the row-number column is unnamed) and ends with the
    label column.
    """
    data_file = f"{name}_R.dat"
    text = _read_text(name, data_file)
    header, _, body = text.partition("\n")
    columns = header.strip().split("\t")
    if columns[-1] != _TARGET_COLUMN:
        raise ValueError(f"{data_file}: last header column is {columns[-1]!r}, not 'clase'")
    feature_names = columns[:-1]
    table = np.loadtxt(io.StringIO(body), dtype=np.float64, ndmin=2)
    if table.shape[1] != len(feature_names) + 2:
        raise ValueError(f"{data_file}: rows do not match the header")
    X = np.ascontiguousarray(table[:, 1:-1])
    y_float = table[:, -1]
    y = y_float.astype(np.int64)
    if not np.array_equal(y, y_float):
        raise ValueError(f"{data_file}: class labels are not integers")
    return X, y, feature_names


def _read_n_classes(name, X, y):
    """The class count recorded upstream in ``<name>.txt``, checked against the data.

    It comes from there so that a class without samples would still be counted.
    """
    n_samples, n_features = X.shape
    meta = _parse_metadata(_read_text(name, f"{name}.txt"))
    n_classes = int(meta["n_clases"])
    if int(meta["n_patrons1"]) != n_samples or int(meta["n_entradas"]) != n_features:
        raise ValueError(f"{name}: data file does not match {name}.txt")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"{name}_R.dat: class labels outside 0..{n_classes - 1}")
    return n_classes


def _read_splits(name, n_samples):
    """The 50/50 validation split and the four (train, test) folds of the data set."""
    split = _parse_index_lines(
        _read_text(name, "conxuntos.dat"), 2, n_samples, "conxuntos.dat"
    )
    kfold = _parse_index_lines(
        _read_text(name, "conxuntos_kfold.dat"), 8, n_samples, "conxuntos_kfold.dat"
    )
    folds = [(kfold[2 * k], kfold[2 * k + 1]) for k in range(4)]
    return (split[0], split[1]), folds


def _describe(name, X, y, n_classes):
    """The ``DESCR`` text of the data set."""
    counts = np.bincount(y, minlength=n_classes)
    return _DESCR_TEMPLATE.format(
        name=name,
        n=X.shape[0],
        d=X.shape[1],
        n_classes=n_classes,
        last=n_classes - 1,
        counts=", ".join(f"{c}: {k}" for c, k in enumerate(counts)),
    )


def _as_frame(X, y, feature_names):
    """The features as a DataFrame and the labels as a Series named "target"."""
    import pandas as pd

    return pd.DataFrame(X, columns=feature_names), pd.Series(y, name="target")


def load_uci(name, *, return_X_y=False, as_frame=False):
    """Load one of the bundled UCI classification data sets.

    The six data sets are the small ones of Table 1 of Ergen & Pilanci (ICML 2021), as
    preprocessed by Fernandez-Delgado et al. (JMLR 2014): categorical inputs coded as
    numbers, every feature standardized to mean 0 and sample standard deviation 1
    (``ddof=1``) over the whole data set, classes numbered ``0..C-1``. The files ship
    inside the package (no download); ``data/SOURCES.md`` records their origin.

    Parameters
    ----------
    name : str
        One of :data:`UCI_DATASETS`: ``"acute-inflammation"``, ``"acute-nephritis"``,
        ``"balloons"``, ``"breast-tissue"``, ``"fertility"``, ``"pittsburg-bridges-SPAN"``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a :class:`pandas.DataFrame` with the feature names as columns,
        ``target`` a :class:`pandas.Series` named ``"target"``, and the Bunch gets a
        ``frame`` holding both. Requires pandas.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the fields

        data : ndarray of shape (n_samples, n_features), dtype float64
            The standardized features (a DataFrame if ``as_frame``).
        target : ndarray of shape (n_samples,), dtype int64
            Class numbers ``0..n_classes-1`` (a Series if ``as_frame``). For the
            regression framing of Ergen & Pilanci, use it as a real-valued target.
        feature_names, target_names : list of str
            Column names from the file header (``"f1"``, ``"f2"``, ...) and the class
            numbers as strings, ``["0", ..., str(n_classes - 1)]``.
        n_classes : int
            The number of classes.
        folds : list of 4 tuples (train_idx, test_idx)
            Row indices from ``conxuntos_kfold.dat``. Each pair partitions the rows
            roughly 75/25, but the four test sets overlap: these are four random
            splits, not a 4-fold partition.
        validation_split : tuple (train_idx, val_idx)
            Row indices from ``conxuntos.dat``: the upstream 50/50 split.
        DESCR : str
            Sizes, preprocessing, provenance and the caveat on the folds.
        frame : pandas.DataFrame
            Only if ``as_frame``: features plus a ``"target"`` column.

    (data, target) : tuple if ``return_X_y`` is True
        The two arrays (or DataFrame and Series if ``as_frame``).

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`UCI_DATASETS`.

    Examples
    --------
    >>> from skconvexrelu.datasets import load_uci
    >>> ds = load_uci("balloons")
    >>> ds.data.shape, ds.n_classes, [len(idx) for idx in ds.folds[0]]
    ((16, 4), 2, [12, 4])
    >>> X, y = load_uci("fertility", return_X_y=True)
    >>> X.shape, y.dtype
    ((100, 9), dtype('int64'))
    """
    if not isinstance(name, str) or name not in UCI_DATASETS:
        raise ValueError(
            f"Unknown UCI data set {name!r}; valid names are: {', '.join(UCI_DATASETS)}"
        )
    X, y, feature_names = _read_table(name)
    n_classes = _read_n_classes(name, X, y)
    split, folds = _read_splits(name, X.shape[0])
    data, target = _as_frame(X, y, feature_names) if as_frame else (X, y)
    if return_X_y:
        return data, target
    bunch = Bunch(
        data=data,
        target=target,
        feature_names=feature_names,
        target_names=[str(c) for c in range(n_classes)],
        n_classes=n_classes,
        folds=folds,
        validation_split=split,
        DESCR=_describe(name, X, y, n_classes),
    )
    if as_frame:
        import pandas as pd

        bunch.frame = pd.concat([data, target], axis=1)
    return bunch
