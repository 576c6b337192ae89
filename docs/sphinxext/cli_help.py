"""Write the ``--help`` text of each ``skmnist`` command for the docs.

At ``builder-inited`` the help of ``skmnist``, ``skmnist train``, ``skmnist
evaluate`` and ``skmnist predict`` is written to ``_generated/cli_<name>.txt``
(``cli.rst`` includes them with ``literalinclude``), so the page always shows
the options of the installed version.
"""

from __future__ import annotations

import os
from pathlib import Path

COMMANDS = ("", "train", "evaluate", "predict")


def help_texts() -> dict[str, str]:
    from skmnist.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal width
    try:
        parser = build_parser()
        texts = {"skmnist": parser.format_help()}
        subparsers = next(
            action
            for action in parser._actions
            if action.choices and action.dest == "command"
        )
        for command in COMMANDS[1:]:
            texts[command] = subparsers.choices[command].format_help()
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    return texts


def generate(app) -> None:
    generated = Path(app.srcdir) / "_generated"
    generated.mkdir(exist_ok=True)
    for name, text in help_texts().items():
        path = generated / f"cli_{name}.txt"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
