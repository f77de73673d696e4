"""Sphinx configuration of the skconvexrelu documentation.

Build with ``python -m sphinx -W -b html doc doc/_build/html``; the examples in
``../examples`` are executed by sphinx-gallery.
"""

import os
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))

import skconvexrelu  # noqa: E402

project = "skconvexrelu"
author = "skconvexrelu developers"
copyright = "2026, skconvexrelu developers"
release = skconvexrelu.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "gen_modules/backreferences/*.examples"]
root_doc = "index"

# -- autodoc / autosummary / numpydoc ----------------------------------------------
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- sphinx-gallery ----------------------------------------------------------------
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "doc_module": ("skconvexrelu",),
    "backreferences_dir": os.path.join("gen_modules", "backreferences"),
    "reference_url": {"skconvexrelu": None},
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 1,
}


def _write_cli_help():
    """Write the ``--help`` texts of the command line to gen_modules/cli_help.txt."""
    import contextlib
    import io

    from skconvexrelu._cli import COMMANDS, main

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps help to the terminal width
    parts = []
    try:
        for argv in [[], *([c] for c in COMMANDS)]:
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
                main([*argv, "--help"])
            parts.append(f"$ skconvexrelu {' '.join([*argv, '--help'])}\n{out.getvalue()}")
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    target = os.path.join(os.path.dirname(__file__), "gen_modules", "cli_help.txt")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


def setup(app):
    _write_cli_help()


# -- HTML --------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skconvexrelu {release}"
html_static_path = ["_static"]
# long class names wrap instead of being clipped (titles, headers, sidebars)
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}
