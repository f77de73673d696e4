"""Smoke tests of the benchmark scripts' comparison with cvxpy (tiny sizes), so that the
commands recorded in benchmarks/README.md keep running."""

from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    if not (BENCH / "bench_native_vs_cvxpy.py").exists():  # pragma: no cover
        pytest.skip("benchmarks/ not shipped with this copy")
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_native_vs_cvxpy

    return bench_native_vs_cvxpy


@pytest.mark.parametrize("mode", [[], ["--estimator"]])
def test_native_vs_cvxpy_table(bench, capsys, mode):
    bench.main(["--n", "40", "--loss", "squared", "hinge", "--cvxpy-max-n", "40", *mode])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[:2] for row in rows] == [["squared", "40"], ["hinge", "40"]]
    for row in rows:
        native_obj, cvxpy_obj = float(row[4]), float(row[6])
        assert native_obj == pytest.approx(cvxpy_obj, rel=1e-3)
        assert row[8].endswith("x") and float(row[8][:-1]) > 0


def test_teacher_labels_split_at_the_median(bench):
    X, y = bench.teacher_data(101)
    assert X.shape == (101, 10)
    labels = bench.class_labels(y)
    np.testing.assert_array_equal(labels, (y > np.median(y)).astype(int))
    assert 0 < labels.sum() <= 50  # ties at the median (the teacher's zeros) go low
    three = bench.class_labels(y, 3)
    np.testing.assert_array_equal(np.bincount(three), [34, 34, 33])
    for k in (0, 1):  # ordered by the teacher's output
        assert y[three == k].max() <= y[three == k + 1].min()
    program, loss, Y, w, beta = bench.teacher_problem(101, loss="hinge")
    np.testing.assert_array_equal(Y[:, 0], np.where(labels == 1, 1.0, -1.0))
    assert beta == pytest.approx(0.01 / 101) and w.sum() == pytest.approx(1.0)


def test_auto_choice_table_runs(monkeypatch, capsys):
    if not (BENCH / "bench_auto_choice.py").exists():  # pragma: no cover
        pytest.skip("benchmarks/ not shipped with this copy")
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_auto_choice

    bench_auto_choice.main(["--data", "balloons", "--beta", "1e-2"])
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[:5] == ["balloons", "16", "2", "cross_entropy", "0.01"]
    assert cells[6] == "optimal" and abs(float(cells[9])) < 1e-4


def test_wide_cones_report(monkeypatch, capsys):
    if not (BENCH / "bench_wide_cones.py").exists():  # pragma: no cover
        pytest.skip("benchmarks/ not shipped with this copy")
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_wide_cones

    out = bench_wide_cones.main(["--n", "300", "--d", "10", "--max-time", "2"])
    assert "rebuilt network" in capsys.readouterr().out
    # the rescaled sampled networks are a feasible point, no worse than the constant model
    assert out["rescaling_violation"] <= 0.0
    assert out["rescaling"] <= out["mean_model"] + 1e-9
    # dropping the second-layer rows and freeing each neuron's scale can only help
    assert out["relaxation"] <= out["rescaling"] + 1e-9
    assert 0.0 < out["needle"][0] <= out["needle"][1]
    assert 0.0 <= out["wrong_signs"] <= 1.0 and np.isfinite(out["network"])


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_scaling_fit_runs_the_estimator_of_the_loss(monkeypatch, capsys, loss):
    import json

    monkeypatch.syspath_prepend(str(BENCH))
    import bench_scaling

    bench_scaling._one(300, 5, 3, 4, 1e-4, 1e-6, None, False, loss)
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["n"] == 300 and out["status"] == "optimal"
    kind = "Regressor" if loss == "squared" else "Classifier"
    assert out["estimator"] == f"ConvexThreeLayer{kind}"
    assert out["solver"].startswith("native:ipm-pcg")
    assert out["objective"] > 0 and out["peak_gib"] > 0


def test_first_working_set_bench_runs_both_starts(monkeypatch, capsys):
    import json

    monkeypatch.syspath_prepend(str(BENCH))
    import bench_first_working_set

    starts = ("large", "small")
    runs = {s: bench_first_working_set._one(400, "squared", s, 0, 3) for s in starts}
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [runs["large"], runs["small"]]
    for out in runs.values():
        assert out["status"] == "optimal" and out["solver"] == "native:ipm-pcg+working-set"
    # two starts of the same program: the same optimum
    assert runs["small"]["objective"] == pytest.approx(runs["large"]["objective"], rel=1e-5)


def test_objective_vs_adam_table_runs(monkeypatch, capsys):
    if not (BENCH / "bench_objective_vs_adam.py").exists():  # pragma: no cover
        pytest.skip("benchmarks/ not shipped with this copy")
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_objective_vs_adam

    bench_objective_vs_adam.main(["--uci", "balloons", "--real"])
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[0] == "balloons" and cells[1] == "16"
    # the verdict is what the two numbers say
    convex, adam = float(cells[2]), min(float(cells[4]), float(cells[5]))
    assert cells[6] == ("yes" if convex <= adam else "no")
    assert cells[7] == "0"  # a default fit raises no warning


def test_large_bench_scaling_rows_and_plot(monkeypatch, capsys, tmp_path):
    if not (BENCH / "bench_large.py").exists():  # pragma: no cover
        pytest.skip("benchmarks/ not shipped with this copy")
    pytest.importorskip("matplotlib")
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_large

    png, js = tmp_path / "s.png", tmp_path / "s.json"
    argv = ["scaling", "--n", "200", "400", "--losses", "squared", "cross_entropy-3"]
    rows = bench_large.main([*argv, "--json", str(js), "--plot", str(png)])
    assert [(r["loss"], r["n"]) for r in rows] == [
        ("squared", 200),
        ("squared", 400),
        ("cross_entropy-3", 200),
        ("cross_entropy-3", 400),
    ]
    for r in rows:
        assert "failed" not in r, r
        assert r["steps"] > 0 and r["seed_s"] is not None and r["solve_s"] > 0
        assert r["warnings"] == [] and np.isfinite(r["gap"])
    out = capsys.readouterr().out
    assert "| squared | 400 |" in out and png.stat().st_size > 0
    # the plot command redraws from the saved rows
    bench_large.main(["plot", str(js), str(tmp_path / "again.png")])
    assert (tmp_path / "again.png").stat().st_size > 0


def test_large_bench_phase_seconds_read_the_verbose_lines(monkeypatch):
    if not (BENCH / "bench_large.py").exists():  # pragma: no cover
        pytest.skip("benchmarks/ not shipped with this copy")
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_large

    text = (
        "[skconvexrelu] seed: 10 sub-networks, objective 0.1 (1.50 s)\n"
        "[skconvexrelu] solve: native:al-fista budget after 200 iterations, objective "
        "0.09, stopping criterion 0.1 (4.25 s)\n"
        "[skconvexrelu] done: objective 0.09, 12 sub-networks (4.50 s)\n"
    )
    assert bench_large._phase_seconds(text) == {"seed": 1.5, "solve": 4.25, "done": 4.5}


def test_dask_bench_agreement_rows_and_tables(monkeypatch, capsys):
    if not (BENCH / "bench_dask.py").exists():  # pragma: no cover
        pytest.skip("benchmarks/ not shipped with this copy")
    distributed = pytest.importorskip("distributed")
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_dask

    from skconvexrelu.solvers.settings import SeedSettings

    def small_cluster(workers, memory_limit):
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None
        )
        return cluster, distributed.Client(cluster)

    def small_model(kind, make=bench_dask._model):
        est = make(kind)
        return est.set_params(
            n_arrangements=2, width=3, solver_options=SeedSettings(polish_steps=20)
        )

    monkeypatch.setattr(bench_dask, "_cluster", small_cluster)
    monkeypatch.setattr(bench_dask, "_model", small_model)
    monkeypatch.setattr(bench_dask, "N_TEST", 100)
    monkeypatch.setattr(bench_dask, "D", 3)
    rows = bench_dask.main(["agree", "--n", "300", "--chunks", "3"])
    assert [r["loss"] for r in rows] == ["squared", "cross_entropy"]
    for r in rows:
        assert r["relative_difference"] < 1e-9  # the same fit, in memory and on Dask
        assert r["score_dask"] == pytest.approx(r["score_memory"], abs=1e-9)
    out = capsys.readouterr().out
    assert "| squared | 300 | 3 |" in out
    X, y, Xte, yte = bench_dask._lazy_teacher(400, 150)
    assert X.chunks[0] == (150, 150, 100) and y.shape == (400,) and Xte.shape == (100, 3)
    table = bench_dask.large_table(
        dict(
            n=400, d=3, data_mb=0.01, memory_limit_mb=1.0, seconds=2.0, seed_seconds=1.0,
            solve_seconds=0.5, steps=20, status="budget", worker_peak_mb=[200.0, 210.0],
            client_peak_mb=300.0, r2=0.9,
        )
    )  # fmt: skip
    assert "| 400 x 3 |" in table and "200, 210" in table
