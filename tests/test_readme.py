"""Every Python code block of README.rst runs on its own, as a user would paste it.

Each ``.. code-block:: python`` block is extracted and run alone in a fresh interpreter
(``sys.executable``) from an empty temporary directory, so that a block relying on an
import or a name from another block, or on files of the repository, fails here.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.rst"
DIRECTIVE = ".. code-block:: python"


def readme_python_blocks(text):
    """The source of every ``.. code-block:: python`` block of the reStructuredText
    ``text``, dedented, in order."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != DIRECTIVE:
            i += 1
            continue
        i += 1
        body = []
        # the block is the indented lines (and blank lines between them) that follow
        while i < len(lines) and (not lines[i].strip() or lines[i][:1].isspace()):
            body.append(lines[i])
            i += 1
        code = textwrap.dedent("\n".join(body)).strip("\n")
        blocks.append(code + "\n")
    return blocks


def test_extraction_finds_indented_blocks_only():
    text = (
        "Intro\n\n.. code-block:: python\n\n    a = 1\n\n    b = a + 1\n"
        "Text after.\n\n.. code-block:: bash\n\n    ls\n\n"
        ".. code-block:: python\n\n    print(2)\n"
    )
    assert readme_python_blocks(text) == ["a = 1\n\nb = a + 1\n", "print(2)\n"]


BLOCKS = readme_python_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block{i + 1}")
def test_readme_block_runs_alone(index, tmp_path):
    script = tmp_path / f"readme_block_{index + 1}.py"
    script.write_text(BLOCKS[index], encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert proc.returncode == 0, (
        f"README code block {index + 1} failed when run alone:\n{BLOCKS[index]}\n"
        f"--- stderr ---\n{proc.stderr[-4000:]}"
    )


def _env():
    """The environment with ``MPLBACKEND=Agg`` (no display is needed)."""
    import os

    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    return env
