"""The reusable experiment functions, on tiny settings."""

from dataclasses import replace

import numpy as np
import pytest

from skconvexrelu import experiments as ex
from skconvexrelu.datasets import UCI_DATASETS
from skconvexrelu.experiments._common import UnknownParameterError
from skconvexrelu.experiments._fits import AdamBaseline, fit_adam


def test_uci_split_regression_framing():
    X, y, X_test, y_test = ex.uci_split("balloons", fold=0)
    assert X.shape == (12, 4) and X_test.shape == (4, 4)
    assert y.dtype == np.float64 and set(np.unique(y)) <= {0.0, 1.0}


def test_compare_rows():
    rows = ex.compare(
        datasets=["balloons"],
        n_arrangements=3,
        adam_steps=30,
        adam_restarts=2,
        mlp_max_iter=20,
        arrangements="random",
        column_generation=0,
        progress=False,
    )
    assert [r["method"] for r in rows] == ["convex", "adam", "MLPRegressor"]
    convex, adam, mlp = rows
    for r in rows:
        assert r["dataset"] == "balloons" and r["n"] == 12 and r["d"] == 4
        assert r["fit_time"] > 0 and r["test_error"] >= 0 and r["train_loss"] >= 0
    assert convex["objective"] > 0 and adam["objective"] > 0
    assert mlp["objective"] is None and mlp["n_subnetworks"] is None
    assert 1 <= adam["n_subnetworks"] <= 10
    # the data term is part of the objective
    assert convex["train_loss"] <= convex["objective"] + 1e-12
    assert adam["train_loss"] <= adam["objective"] + 1e-12


def test_convex_regressor_rejects_unknown_parameter():
    with pytest.raises(UnknownParameterError, match="has no parameter") as exc:
        ex.convex_regressor(no_such_parameter=1)
    assert isinstance(exc.value, ValueError)
    # None values are ignored
    assert ex.convex_regressor(beta=0.5, max_time=None).beta == 0.5


def test_table1_rows():
    rows = ex.table1(
        datasets=["balloons"],
        n_restarts=1,
        adam_steps=20,
        n_arrangements=3,
        column_generation=0,
        progress=False,
    )
    (row,) = rows
    assert row["dataset"] == "balloons" and row["paper"] == ex.PAPER_TABLE1["balloons"]
    assert row["adam_objective"] > 0 and row["convex_objective"] > 0
    assert row["arrangements"] in ("random", "nonconvex")
    if row["arrangements"] == "nonconvex":
        # seeded with an Adam network: never worse than that network
        assert row["convex_n_subnetworks"] >= 1
    # the Adam baseline takes mini-batches of n / 8 rows, as in the paper
    X, y, X_test, y_test = ex.uci_split("balloons")
    adam = AdamBaseline(7, 10, 20, 1e-2, 1, batch_size=len(y) // 8)
    again = fit_adam(X, y, X_test, y_test, 0.1 / len(y), adam, 0)
    assert again["objective"] == row["adam_objective"]
    full_batch = fit_adam(
        X, y, X_test, y_test, 0.1 / len(y), replace(adam, batch_size=None), 0
    )
    assert full_batch["objective"] != row["adam_objective"]


def test_synthetic_teacher_shapes():
    X, y = ex.synthetic_teacher(n=5, d=2, random_state=0)
    assert X.shape == (5, 2) and y.shape == (5,)
    X2, y2 = ex.synthetic_teacher(n=5, d=2, random_state=0)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_figure4_structure(optimizer):
    res = ex.figure4(
        n_subnetworks=(1, 2),
        n_inits=2,
        optimizer=optimizer,
        n_steps=15,
        n_arrangements=10,
        progress=False,
    )
    assert len(res["runs"]) == 4 and {r["K"] for r in res["runs"]} == {1, 2}
    for r in res["runs"]:
        assert len(r["time"]) == len(r["objective"]) and r["final"] > 0
        assert np.all(np.diff(r["time"]) >= 0)
    c = res["convex"]
    assert c["time"] > 0 and c["n_subnetworks"] >= 0
    # the rebuilt network has the convex objective (Proposition 1)
    assert c["reconstructed_objective"] == pytest.approx(c["objective"], rel=1e-5, abs=1e-9)
    assert res["beta"] == pytest.approx(0.002 / 5)


def test_figure4_bad_optimizer():
    with pytest.raises(ValueError, match="optimizer"):
        ex.figure4(optimizer="lbfgs", progress=False)


def test_beta_path_sparsity():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = np.abs(X[:, 0]) - X[:, 1]
    rows = ex.beta_path(X, y, [1e-4, 1e-2, 10.0], width=3, n_arrangements=4)
    assert [r["beta"] for r in rows] == [1e-4, 1e-2, 10.0]
    assert rows[-1]["n_subnetworks"] == 0  # beta above its maximum: no sub-network
    assert rows[0]["n_subnetworks"] >= rows[-1]["n_subnetworks"]
    assert rows[0]["objective"] <= rows[-1]["objective"]


def test_format_table_styles():
    rows = [{"a": "x", "b": 1.23456, "c": None}, {"a": "yy", "b": 2, "c": 3}]
    text = ex.format_table(rows, ["a", "b", "c"])
    assert text.splitlines()[2].split() == ["x", "1.235", "n/a"]
    rst = ex.format_table(rows, ["a", "b", "c"], style="rst")
    assert rst.splitlines()[0] == rst.splitlines()[2] == rst.splitlines()[-1]
    with pytest.raises(ValueError, match="style"):
        ex.format_table(rows, ["a"], style="html")


def test_plots_return_figures(tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        {
            "dataset": "d",
            "method": "convex",
            "objective": 0.1,
            "test_error": 0.2,
            "fit_time": 1.0,
        },
        {
            "dataset": "d",
            "method": "MLPRegressor",
            "objective": None,
            "test_error": 0.3,
            "fit_time": 0.1,
        },
    ]
    fig = ex.plot_comparison(rows, path=tmp_path / "c.png")
    assert (tmp_path / "c.png").exists()
    plt.close(fig)
    path_rows = [
        {"beta": b, "objective": b, "n_subnetworks": k} for b, k in [(0.1, 3), (1.0, 0)]
    ]
    plt.close(ex.plot_beta_path(path_rows, path=tmp_path / "b.png"))
    res = {
        "optimizer": "adam",
        "beta": 0.0004,
        "X": [[0.0, 0.0]] * 5,
        "y": [0.0] * 5,
        "runs": [{"K": 1, "init": 0, "time": [0.1, 0.2], "objective": [1.0, 0.5]}],
        "convex": {"objective": 0.4, "reconstructed_objective": 0.4, "time": 0.3},
    }
    plt.close(ex.plot_figure4(res, path=tmp_path / "f.png"))
    assert (tmp_path / "f.png").exists() and (tmp_path / "b.png").exists()


def test_public_names():
    for name in ex.__all__:
        assert getattr(ex, name) is not None, name
    assert ex.COMPARE_DATASETS == ("acute-inflammation", "balloons", "fertility")
    assert set(ex.PAPER_TABLE1) == set(UCI_DATASETS)


def test_adam_baseline_keeps_the_best_restart():
    X, y, X_test, y_test = ex.uci_split("balloons")
    beta = 0.1 / len(y)
    one = AdamBaseline(3, 2, 15, 1e-2, 1)
    three = replace(one, n_restarts=3)
    # the first restart is the same run in both: the best of three is no worse
    best = fit_adam(X, y, X_test, y_test, beta, three, 0)
    first = fit_adam(X, y, X_test, y_test, beta, one, 0)
    assert best["objective"] <= first["objective"]
    assert best["note"].startswith("best of 3, K=2, 15 steps")
