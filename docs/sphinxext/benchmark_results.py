"""Turn ``benchmarks/results/*.md`` into reStructuredText for the docs.

At ``builder-inited`` this writes ``_generated/benchmark_results.rst`` (one
section per results file) and ``_generated/benchmark_scripts.rst`` (one entry
per script in ``benchmarks/``), which ``benchmarks.rst`` includes. The results
files are the small Markdown reports the benchmark scripts write: headings,
paragraphs, bullet lists, fenced code and pipe tables. Those are converted;
plain text is escaped so that it can never be read as reST markup. A file
whose conversion does not parse cleanly as reST is shown verbatim instead, so
that a new report can never break the build. No results yet: a note says so.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from docutils.core import publish_doctree
from docutils.nodes import system_message

# Heading characters below the page title (=) and its sections (-).
HEADING_CHARS = "~^\"'"
# Prefix that places the converted text where benchmarks.rst includes it.
CONTEXT = "Benchmarks\n==========\n\nResults\n-------\n\n"

_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"
    r"|!\[(?P<img_alt>[^\]]*)\]\([^)]*\)"
    r"|\[(?P<link_text>[^\]]+)\]\((?P<link_url>[^)\s]+)\)"
    r"|\*\*(?P<bold>[^*]+?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*]*?)\*(?![\w*])"
)
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")


def escape(text: str) -> str:
    """Plain text as reST that renders exactly as ``text``."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"([*`_|])", r"\\\1", text)
    return text.replace("::", ":\\:")


def _wrap(markup: str, before: str, after: str) -> str:
    """Inline markup, with escaped spaces where it touches a word."""
    start = "\\ " if before and not before[-1].isspace() else ""
    end = "\\ " if after and not (after[0].isspace() or after[0] in ".,;:!?)") else ""
    return f"{start}{markup}{end}"


def inline(text: str) -> str:
    """Convert Markdown inline markup to reST."""
    out, position = [], 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[position : match.start()]))
        before, after = text[: match.start()], text[match.end() :]
        if match.group("code") is not None:
            code = match.group("code_text").strip()
            markup = f"``{code}``" if "`" not in code else escape(code)
        elif match.group("img_alt") is not None:
            markup = escape(match.group("img_alt"))
        elif match.group("link_text") is not None:
            label = match.group("link_text").replace("`", "").replace("<", "")
            url = match.group("link_url")
            if re.match(r"^[a-z]+://", url):
                markup = f"`{escape(label)} <{url}>`__"
            else:  # a relative link to a file of the repository
                markup = escape(label)
        elif match.group("bold") is not None:
            markup = f"**{escape(match.group('bold').strip())}**"
        else:
            markup = f"*{escape(match.group('em').strip())}*"
        out.append(_wrap(markup, before, after))
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def _table(lines: list[str]) -> list[str]:
    header = _split_row(lines[0])
    rows = [_split_row(line) for line in lines[2:]]
    width = len(header)
    out = [".. list-table::", "   :header-rows: 1", "   :class: benchmark-table", ""]
    for row in [header, *rows]:
        row = (row + [""] * width)[:width]
        for index, cell in enumerate(row):
            bullet = "   * -" if index == 0 else "     -"
            out.append(f"{bullet} {inline(cell)}".rstrip())
    return [*out, ""]


def markdown_to_rst(markdown: str, fallback_title: str) -> str:
    """Convert one results report; its first heading becomes the section title."""
    lines = markdown.splitlines()
    out: list[str] = []
    titled = False
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not stripped or re.match(r"^\s*([-*_])(\s*\1){2,}\s*$", line):
            out.append("")
            i += 1
        elif heading:
            depth = len(heading.group(1)) - 1
            level = min(depth, len(HEADING_CHARS) - 1) if titled else 0
            title = inline(heading.group(2)) or escape(fallback_title)
            out += ["", title, HEADING_CHARS[level] * max(len(title), 4), ""]
            titled = True
            i += 1
        elif stripped.startswith("```") or stripped.startswith("~~~"):
            fence = stripped[:3]
            block = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                block.append(lines[i])
                i += 1
            i += 1
            out += ["", "::", "", *(f"    {code}" for code in block or [""]), ""]
        elif (
            stripped.startswith("|")
            and i + 1 < len(lines)
            and _TABLE_SEPARATOR.match(lines[i + 1])
        ):
            block = [line, lines[i + 1]]
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                block.append(lines[i])
                i += 1
            out += ["", *_table(block)]
        elif _LIST_ITEM.match(line):
            out.append("")
            while i < len(lines) and lines[i].strip():
                item = _LIST_ITEM.match(lines[i])
                if item:
                    indent = "  " * (len(item.group(1).expandtabs(4)) // 2)
                    out += ["", f"{indent}- {inline(item.group(3))}"]
                else:  # continuation of the previous item
                    out[-1] += " " + inline(lines[i].strip())
                i += 1
            out.append("")
        else:
            paragraph = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not (
                    re.match(r"^#{1,6}\s", lines[i])
                    or lines[i].strip().startswith(("|", "```", "~~~"))
                    or _LIST_ITEM.match(lines[i])
                )
            ):
                paragraph.append(inline(lines[i].strip()))
                i += 1
            out += ["", *paragraph, ""]
    if not titled:
        title = escape(fallback_title)
        out = [title, HEADING_CHARS[0] * max(len(title), 4), "", *out]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")
    return text + "\n"


def parses_cleanly(rst: str) -> bool:
    """Whether docutils reads ``rst`` (in its place in the page) without a message."""
    try:
        tree = publish_doctree(
            CONTEXT + rst,
            settings_overrides={
                "report_level": 5,
                "halt_level": 5,
                "warning_stream": False,
                "file_insertion_enabled": False,
                "raw_enabled": False,
            },
        )
    except Exception:
        return False
    return not any(True for _ in tree.findall(system_message))


def verbatim(markdown: str, title: str) -> str:
    title = escape(title)
    body = "\n".join(f"    {line}" for line in markdown.splitlines()) or "    (empty)"
    return f"{title}\n{HEADING_CHARS[0] * max(len(title), 4)}\n\n::\n\n{body}\n"


def results_rst(results_dir: Path) -> str:
    reports = sorted(results_dir.glob("*.md")) if results_dir.is_dir() else []
    if not reports:
        return (
            ".. note::\n\n"
            "   No benchmark results have been recorded yet. Run a benchmark "
            "script (see above); it writes ``benchmarks/results/<name>.md`` "
            "and ``.json``, and the next documentation build shows them here.\n"
        )
    sections = []
    for report in reports:
        markdown = report.read_text(encoding="utf-8", errors="replace")
        source = f"*From* ``benchmarks/results/{report.name}``.\n"
        try:
            rst = markdown_to_rst(markdown, report.stem)
        except Exception:
            rst = None
        if rst is None or not parses_cleanly(rst + "\n" + source):
            rst = verbatim(markdown, report.stem)
        sections.append(f"{rst}\n{source}")
    return "\n".join(sections)


def scripts_rst(benchmarks_dir: Path) -> str:
    scripts = sorted(
        path for path in benchmarks_dir.glob("*.py") if not path.name.startswith("_")
    )
    items = []
    for script in scripts:
        try:
            docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
        except (SyntaxError, UnicodeDecodeError):
            docstring = None
        summary = (docstring or "").strip().split("\n\n")[0].replace("\n", " ")
        entry = f"``benchmarks/{script.name}``"
        items.append(f"- {entry}: {escape(summary)}" if summary else f"- {entry}")
    return "\n".join(items) + "\n" if items else "No benchmark scripts yet.\n"


def generate(app) -> None:
    repo = Path(app.srcdir).resolve().parent
    generated = Path(app.srcdir) / "_generated"
    generated.mkdir(exist_ok=True)
    files = {
        "benchmark_results.rst": results_rst(repo / "benchmarks" / "results"),
        "benchmark_scripts.rst": scripts_rst(repo / "benchmarks"),
    }
    for name, text in files.items():
        path = generated / name
        # Rewrite only on change, so that Sphinx rebuilds only when needed.
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
