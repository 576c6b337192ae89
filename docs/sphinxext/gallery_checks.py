"""Keep the build machine out of the gallery's pages.

sphinx-gallery runs each example and puts what it prints on the example's
page, warnings included: Python prints a warning as ``FILE:LINE: Category:
message``, with the absolute path of the file that triggered it (a
``site-packages`` path of the build machine's environment). At
``source-read`` every generated gallery page is searched for such warnings
and for the build machine's own paths (the repository, the Python
environment, the home and temporary folders); each one found is a Sphinx
warning, an error under ``-W``. An example that must show a warning catches
it and says what it means.
"""

from __future__ import annotations

import re
import site
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: The gallery's folder in the documentation (``gallery_dirs`` in conf.py).
GALLERY = "auto_examples"

#: A warning as ``warnings.formatwarning`` writes it: ``FILE:LINE: Category:``.
PRINTED_WARNING = re.compile(r"^\s*(\S.*?):(\d+): (\w*(?:Warning|Error)\w*): ", re.M)


def machine_paths(repo: Path) -> list[str]:
    """The build machine's folders that must not appear on a page."""
    folders = {
        repo,
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path.home(),
        Path(tempfile.gettempdir()),
        *map(Path, site.getsitepackages()),
    }
    # Longest first, so a message names the most specific folder.
    names = {str(folder.resolve()) for folder in folders if folder.parts[1:]}
    names |= {str(folder) for folder in folders if folder.parts[1:]}
    return sorted(names, key=len, reverse=True)


def problems(text: str, paths: Iterable[str]) -> list[str]:
    """What on a gallery page comes from the build machine, one line each.

    Parameters
    ----------
    text : str
        The page's reStructuredText, as sphinx-gallery wrote it.
    paths : iterable of str
        Absolute folders of the build machine (see :func:`machine_paths`).

    Returns
    -------
    list of str
        A printed warning (``FILE:LINE: Category: ...``) or a line that
        names one of ``paths`` followed by a path separator; empty when the
        page is clean.
    """
    paths = list(paths)
    found = [
        f"a printed {match[3]} (from {Path(match[1]).name}, line {match[2]})"
        for match in PRINTED_WARNING.finditer(text)
    ]
    pattern = re.compile(
        "|".join(rf"{re.escape(path.rstrip('/'))}(?=/)" for path in paths)
    )
    for line in text.splitlines():
        match = pattern.search(line) if paths else None
        if match:
            found.append(f"the build machine's path {match[0]!r}: {line.strip()}")
    return found


def check_page(app, docname: str, source: list[str]) -> None:
    if not docname.startswith(f"{GALLERY}/"):
        return
    paths = machine_paths(Path(app.srcdir).resolve().parent)
    for problem, count in Counter(problems(source[0], paths)).items():
        times = f" ({count} times)" if count > 1 else ""
        logger.warning(
            "the page shows %s%s; the example should not print it.",
            problem,
            times,
            location=docname,
        )


def setup(app):
    app.connect("source-read", check_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
