"""Sphinx configuration of the skmnist documentation.

Build with ``make docs`` from the repository root. Everything is built
offline: no intersphinx inventories and no remote images are fetched.
"""

import os
import re
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "sphinxext"))

import skmnist  # noqa: E402

# -- Project ------------------------------------------------------------------
project = "skmnist"
author = "the skmnist developers"
copyright = "the skmnist developers"
release = skmnist.__version__
version = ".".join(release.split(".")[:2])

# -- General ------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "benchmark_results",
    "cli_help",
    "gallery_checks",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "sphinxext", "Thumbs.db", ".DS_Store"]
default_role = "literal"
root_doc = "index"
# No intersphinx: the documentation builds without network access.
intersphinx_mapping = {}

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(REPO / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("skmnist",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1,
    "image_srcset": [],
    # No computation-time pages: they load scripts from CDNs.
    "write_computation_times": False,
    # Show rich (HTML) reprs such as DataFrames, not matplotlib Text objects.
    "capture_repr": ("_repr_html_",),
}
# Examples run in this process: never open a window.
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmnist {release}"
html_static_path = ["_static"]
html_css_files = ["skmnist.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_context = {"default_mode": "light"}
html_sidebars = {"index": [], "install": [], "quickstart": [], "changelog": []}


# -- Docstrings inherited from scikit-learn -------------------------------------
# Methods such as ``score`` or ``set_output`` come from scikit-learn, whose
# docstrings cross-reference labels and glossary terms of scikit-learn's own
# documentation. Without intersphinx those would be broken references, so
# they are rendered as literals (plain text would turn ``classes_`` into a
# reference of its own). This site has no glossary, so a glossary term is
# scikit-learn's wherever it appears (inherited properties carry no module).
_SKLEARN_REF = re.compile(r":ref:`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")
_TERM = re.compile(r":term:`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def _literal(match: re.Match) -> str:
    return f"``{(match.group(1) or match.group(2)).strip()}``"


def _plain_sklearn_references(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    for index, line in enumerate(lines):
        line = _TERM.sub(_literal, line)
        if module.startswith("sklearn"):
            line = _SKLEARN_REF.sub(_literal, line)
        lines[index] = line


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_references)
