"""Sphinx configuration for sklearn-vpnn.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Besides the usual settings, this file does two things at build time:

* writes the ``--help`` text of every ``sklearn-vpnn`` command to
  ``docs/_generated/cli_<command>.txt`` (included by ``cli.rst``), so the
  command-line page can never drift from the parser;
* checks that ``api.rst`` lists every public name of :mod:`sklearn_vpnn`
  (``sklearn_vpnn.__all__``) and of :mod:`sklearn_vpnn.nn`, and stops the build
  otherwise.
"""

import contextlib
import io
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the package, even when it is not installed

os.environ.setdefault("MPLBACKEND", "Agg")

import sklearn_vpnn  # noqa: E402
import sklearn_vpnn.nn  # noqa: E402

# -- project -------------------------------------------------------------------
project = "sklearn-vpnn"
author = "sklearn-vpnn developers"
copyright = "sklearn-vpnn developers"
release = sklearn_vpnn.__version__
version = release

# -- extensions ----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# No intersphinx on purpose: the build must not touch the network.

templates_path = ["_templates"]
exclude_patterns = ["_build", "_drafts", "_generated", "Thumbs.db", ".DS_Store",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.json"]
root_doc = "index"
nitpicky = False
default_role = "literal"

# autodoc / autosummary / numpydoc
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_show_inherited_class_members = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# numpydoc's validation on every documented object (warnings are errors under -W):
# every parameter documented and none unknown, with types and descriptions, and every
# return value described. Extended summaries, See Also and Examples sections are not
# required of each method.
numpydoc_validation_checks = {"PR01", "PR02", "PR03", "PR04", "PR06", "PR10", "RT01", "RT03", "YD01"}
numpydoc_validation_exclude = {r"\.extra_repr$", r"\.__init__$"}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-vpnn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_context = {"default_mode": "light"}

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # execute only plot_*.py; train_musdb_drums.py (a 15-minute training) is
    # rendered as a page with its code, never run
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "plot_gallery": "True",
    "capture_repr": ("_repr_html_", "__repr__"),
    "show_memory": False,
    "min_reported_time": 0,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "backreferences_dir": None,
    "show_signature": False,
}


# -- generated: the command line's --help texts ------------------------------------
CLI_COMMANDS = ("separate", "train", "evaluate", "models", "demo")


def _write_cli_help():
    from sklearn_vpnn.cli import main

    out_dir = HERE / "_generated"
    out_dir.mkdir(exist_ok=True)
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "90"  # argparse wraps to the terminal width: make it fixed
    try:
        for name, argv in [("main", ["--help"])] + [(c, [c, "--help"]) for c in CLI_COMMANDS]:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                code = main(argv)
            text = buf.getvalue()
            if code != 0 or not text.startswith("usage: sklearn-vpnn"):
                raise RuntimeError(f"`sklearn-vpnn {' '.join(argv)}` gave exit code {code}:\n{text}")
            path = out_dir / f"cli_{name}.txt"
            if not path.exists() or path.read_text() != text:  # keep mtimes stable
                path.write_text(text)
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


_write_cli_help()


# -- check: the API reference lists every public name -------------------------------
def _check_api_reference():
    text = (HERE / "api.rst").read_text()
    listed = {}
    module = None
    in_autosummary = False
    for line in text.splitlines():
        m = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if m:
            module = m.group(1)
            continue
        if line.startswith(".. autosummary::"):
            in_autosummary = True
            continue
        if in_autosummary:
            if line.strip() == "" or line.strip().startswith(":"):
                continue
            if line.startswith("   "):
                listed.setdefault(module, set()).add(line.strip())
                continue
            in_autosummary = False
    problems = []
    for mod, names in (("sklearn_vpnn", sklearn_vpnn.__all__),
                       ("sklearn_vpnn.nn", sklearn_vpnn.nn.__all__)):
        missing = sorted(set(names) - listed.get(mod, set()))
        if missing:
            problems.append(f"{mod}: {', '.join(missing)}")
    if problems:
        raise RuntimeError(
            "docs/api.rst does not list these public names (add them to an autosummary "
            "under the right currentmodule): " + "; ".join(problems)
        )


_check_api_reference()
