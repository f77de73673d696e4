"""Tests for the bundled UCI data sets (skconvexrelu.datasets)."""

import doctest
import re
from importlib import resources

import numpy as np
import pytest

from skconvexrelu.datasets import UCI_DATASETS, _uci, load_uci

# n, d, class counts, from the table in skconvexrelu/datasets/data/SOURCES.md
EXPECTED = {
    "acute-inflammation": (120, 6, [61, 59]),
    "acute-nephritis": (120, 6, [70, 50]),
    "balloons": (16, 4, [9, 7]),
    "breast-tissue": (106, 9, [21, 15, 18, 16, 14, 22]),
    "fertility": (100, 9, [88, 12]),
    "pittsburg-bridges-SPAN": (92, 7, [22, 48, 22]),
}


def _assert_partition(a, b, n):
    assert a.dtype.kind == "i" and b.dtype.kind == "i"
    assert a.ndim == 1 and b.ndim == 1
    assert len(a) > 0 and len(b) > 0
    assert a.min() >= 0 and b.min() >= 0
    assert a.max() < n and b.max() < n
    both = np.concatenate([a, b])
    assert len(both) == n
    np.testing.assert_array_equal(np.sort(both), np.arange(n))


def test_names_match_expected_table():
    assert tuple(sorted(EXPECTED)) == tuple(sorted(UCI_DATASETS))
    assert len(UCI_DATASETS) == 6


@pytest.mark.parametrize("name", UCI_DATASETS)
def test_sizes_and_classes(name):
    n, d, counts = EXPECTED[name]
    ds = load_uci(name)
    assert ds.data.shape == (n, d)
    assert ds.data.dtype == np.float64
    assert ds.target.shape == (n,)
    assert ds.target.dtype == np.int64
    assert ds.n_classes == len(counts)
    assert ds.target_names == [str(c) for c in range(len(counts))]
    assert ds.feature_names == [f"f{j}" for j in range(1, d + 1)]
    np.testing.assert_array_equal(np.bincount(ds.target, minlength=ds.n_classes), counts)
    assert np.all(np.isfinite(ds.data))
    assert name in ds.DESCR
    assert "overlap" in ds.DESCR.lower()
    assert f"Samples: {n}" in ds.DESCR


@pytest.mark.parametrize("name", UCI_DATASETS)
def test_folds_are_partitions(name):
    ds = load_uci(name)
    n = ds.data.shape[0]
    assert isinstance(ds.folds, list) and len(ds.folds) == 4
    for train_idx, test_idx in ds.folds:
        _assert_partition(train_idx, test_idx, n)
        # about 75/25
        assert abs(len(test_idx) - n / 4) <= 1


@pytest.mark.parametrize("name", UCI_DATASETS)
def test_fold_test_sets_overlap(name):
    # Documented caveat: four random 75/25 splits, not a 4-fold partition.
    ds = load_uci(name)
    tests = [set(t.tolist()) for _, t in ds.folds]
    overlaps = any(tests[i] & tests[j] for i in range(4) for j in range(i + 1, 4))
    covered = set().union(*tests)
    assert overlaps or len(covered) < ds.data.shape[0]


@pytest.mark.parametrize("name", UCI_DATASETS)
def test_validation_split_is_partition(name):
    ds = load_uci(name)
    n = ds.data.shape[0]
    train_idx, val_idx = ds.validation_split
    _assert_partition(train_idx, val_idx, n)
    assert abs(len(train_idx) - len(val_idx)) <= 1


@pytest.mark.parametrize("name", UCI_DATASETS)
def test_features_standardized(name):
    X = load_uci(name).data
    # the files store about 6 significant digits
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(X.std(axis=0, ddof=1), 1.0, atol=1e-4)


def test_acute_pair_shares_features():
    a = load_uci("acute-inflammation")
    b = load_uci("acute-nephritis")
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.target, b.target)


def test_as_frame():
    pd = pytest.importorskip("pandas")
    ds = load_uci("breast-tissue", as_frame=True)
    assert isinstance(ds.data, pd.DataFrame)
    assert isinstance(ds.target, pd.Series)
    assert list(ds.data.columns) == ds.feature_names
    assert ds.data.shape == (106, 9)
    assert ds.target.name == "target"
    assert isinstance(ds.frame, pd.DataFrame)
    assert list(ds.frame.columns) == ds.feature_names + ["target"]
    plain = load_uci("breast-tissue")
    np.testing.assert_array_equal(ds.data.to_numpy(), plain.data)
    np.testing.assert_array_equal(ds.target.to_numpy(), plain.target)
    assert "frame" not in plain

    X, y = load_uci("balloons", as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)


def test_return_X_y():
    out = load_uci("fertility", return_X_y=True)
    assert isinstance(out, tuple) and len(out) == 2
    X, y = out
    ds = load_uci("fertility")
    np.testing.assert_array_equal(X, ds.data)
    np.testing.assert_array_equal(y, ds.target)


@pytest.mark.parametrize("bad", ["iris", "Balloons", "", None, "balloons_R"])
def test_unknown_name(bad):
    msg = r"Unknown UCI data set .*valid names are: .*balloons"
    with pytest.raises(ValueError, match=msg):
        load_uci(bad)


def test_keyword_only():
    with pytest.raises(TypeError):
        load_uci("balloons", True)


def test_sources_md_is_in_package():
    data = resources.files("skconvexrelu.datasets").joinpath("data")
    sources = data.joinpath("SOURCES.md")
    assert sources.is_file()
    text = sources.read_text(encoding="utf-8")
    assert "Fernandez-Delgado" in text
    for name in UCI_DATASETS:
        assert name in text
        folder = data.joinpath("uci", name)
        for fname in (f"{name}_R.dat", f"{name}.txt", "conxuntos.dat", "conxuntos_kfold.dat"):
            assert folder.joinpath(fname).is_file(), (name, fname)


def test_docstring_examples():
    result = doctest.testmod(_uci, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def _corrupted(monkeypatch, filename, edit):
    """Make ``_uci._read_text`` return ``edit(text)`` for ``filename``."""
    original = _uci._read_text

    def read(name, fname):
        text = original(name, fname)
        return edit(text) if fname == filename.format(name=name) else text

    monkeypatch.setattr(_uci, "_read_text", read)


@pytest.mark.parametrize(
    "filename, edit, message",
    [
        ("{name}_R.dat", lambda t: t.replace("clase", "label", 1), "last header column"),
        ("{name}_R.dat", lambda t: t.replace("\t", "\tx\t", 1), "rows do not match"),
        ("{name}.txt", lambda t: re.sub("n_clases=.*", "n_clases= 1", t), "labels outside"),
        ("{name}.txt", lambda t: re.sub("n_entradas=.*", "n_entradas= 9", t), "not match"),
        ("conxuntos_kfold.dat", lambda t: t.split("\n", 1)[1], "expected 8 lines"),
        ("conxuntos.dat", lambda t: "999 " + t, "out of range"),
    ],
)
def test_inconsistent_files_are_rejected(monkeypatch, filename, edit, message):
    _corrupted(monkeypatch, filename, edit)
    with pytest.raises(ValueError, match=message):
        load_uci("balloons")


def test_frame_holds_features_and_target():
    pytest.importorskip("pandas")
    ds = load_uci("balloons", as_frame=True)
    assert list(ds.frame.columns) == [*ds.feature_names, "target"]
    np.testing.assert_array_equal(ds.frame["target"].to_numpy(), ds.target.to_numpy())
