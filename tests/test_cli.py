"""The ``skconvexrelu`` command line."""

import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

from skconvexrelu import _cli  # noqa: E402
from skconvexrelu._cli import _normalize_argv, build_parser, main  # noqa: E402

TINY = [
    "--datasets",
    "balloons",
    "--n-arrangements",
    "3",
    "--adam-steps",
    "20",
    "--adam-restarts",
    "1",
    "--mlp-max-iter",
    "20",
    "--column-generation",
    "0",
    "--arrangements",
    "random",
]


def test_compare_prints_table_and_writes_png(tmp_path, capsys):
    out = tmp_path / "cmp.png"
    assert main(["compare", *TINY, "--quiet", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    for word in (
        "dataset",
        "objective",
        "test MSE",
        "balloons",
        "convex",
        "adam",
        "MLPRegressor",
    ):
        assert word in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_command_is_compare(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*TINY]) == 0  # options without a command: compare
    text = capsys.readouterr().out
    assert "Regression framing" in text and "done in" in text
    assert (tmp_path / "skconvexrelu-comparison.png").exists()


def test_rst_format_and_no_plot(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["compare", *TINY, "--quiet", "--no-plot", "--format", "rst"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("====") and lines[-1].startswith("====")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv, command",
    [
        ([], "compare"),
        (["--seed", "3"], "compare"),
        (["table1", "--quick"], "table1"),
        (["figure4", "--optimizer", "sgd", "--K", "1", "2"], "figure4"),
    ],
)
def test_subcommands_parse(argv, command):
    args = build_parser().parse_args(_normalize_argv(argv))
    assert args.command == command


def test_table1_options():
    args = build_parser().parse_args(
        ["table1", "--quick", "--restarts", "2", "--datasets", "balloons", "fertility"]
    )
    assert args.quick and args.restarts == 2 and args.datasets == ["balloons", "fertility"]


def test_figure4_options():
    args = build_parser().parse_args(["figure4", "--K", "1", "3", "--inits", "2"])
    assert args.n_subnetworks == [1, 3] and args.inits == 2


@pytest.mark.parametrize(
    "argv", [["--help"], ["compare", "--help"], ["table1", "--help"], ["figure4", "--help"]]
)
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: skconvexrelu" in capsys.readouterr().out


def _help(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no line breaks inside the phrases checked
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_help_texts_state_the_defaults_of_each_command(capsys, monkeypatch):
    for command in ("compare", "table1", "figure4"):
        text = _help(command, capsys, monkeypatch)
        assert "versions of the estimator" not in text and "if supported" not in text
    table1 = _help("table1", capsys, monkeypatch)
    # the convex fit is seeded with an Adam network's configurations, also with --quick
    assert "configurations of a separately Adam-trained network" in table1
    assert "starts from an Adam network's configurations plus at most 10 random" in table1
    assert "(default: nonconvex)" in table1 and "(default: 5)" in table1
    figure4 = _help("figure4", capsys, monkeypatch)
    assert "(default: random)" in figure4 and "(default: 300)" in figure4
    compare = _help("compare", capsys, monkeypatch)
    assert (
        "(default: nonconvex)" in compare and "yields a lower bound on the optimum" in compare
    )


def test_unknown_estimator_parameter_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(_cli, "_convex_params", lambda args: {"no_such_parameter": 1})
    with pytest.raises(SystemExit) as exc:
        main(["compare", *TINY, "--quiet", "--no-plot"])
    assert exc.value.code == 2
    assert "has no parameter(s) no_such_parameter" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--datasets", "no-such-data"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--width", "0"])
    assert exc.value.code == 2


def test_table1_quick_runs(capsys):
    main(
        [
            "table1",
            "--quick",
            "--quiet",
            "--datasets",
            "balloons",
            "--restarts",
            "1",
            "--adam-steps",
            "20",
            "--n-arrangements",
            "3",
            "--column-generation",
            "0",
        ]
    )
    text = capsys.readouterr().out
    assert "balloons" in text and "paper SGD" in text


def test_figure4_runs(tmp_path, capsys):
    out = tmp_path / "f4.png"
    main(
        [
            "figure4",
            "--quiet",
            "--K",
            "1",
            "--inits",
            "2",
            "--steps",
            "20",
            "--n-arrangements",
            "5",
            "--output",
            str(out),
        ]
    )
    assert "convex program" in capsys.readouterr().out
    assert out.stat().st_size > 0


def test_python_dash_m_help():
    proc = subprocess.run(
        [sys.executable, "-m", "skconvexrelu", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "compare" in proc.stdout and "table1" in proc.stdout and "figure4" in proc.stdout
