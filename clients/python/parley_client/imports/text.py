"""Cell-level helpers shared by the importers: CSV tables with line numbers, numbers, yes/no flags, lists and
HTML descriptions."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any


class CellError(ValueError):
    """A cell that cannot be read; the importer reports it with the row's line and the column."""

    def __init__(self, column: str, message: str):
        super().__init__(f"{column}: {message}")


@dataclass
class Record:
    """One CSV record, its cells by lower-case column name, and the line it starts on."""

    line: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "").strip()


@dataclass
class Table:
    """A CSV file's header and its non-blank records with the lines they start on. Records whose field count
    differs from the header's, and a record that could not be parsed (reading stops there), are `problems`."""

    header: list[str]
    records: list[tuple[int, list[str]]]
    problems: list[tuple[int, str]] = field(default_factory=list)

    def by_column(self) -> list[Record]:
        names = [name.lower() for name in self.header]
        return [Record(line, dict(zip(names, record))) for line, record in self.records]


@dataclass
class Parsed:
    """What an importer read: (line, item dict or error message) per product, and notes for the user."""

    format: str
    rows: list[tuple[int, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_table(text: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip() for column in next(reader, [])]
        if header:  # a byte order mark (WooCommerce writes one) is no part of the first column's name
            header[0] = header[0].lstrip("\ufeff").strip()
    except csv.Error as exc:
        raise CellError("line 1", f"not valid CSV ({exc})") from None
    table = Table(header, [])
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return table
        except csv.Error as exc:
            table.problems.append((start, f"not valid CSV ({exc})"))
            return table
        if not record or not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            table.problems.append((start, f"has {len(record)} fields but the header has {len(header)}"))
        else:
            table.records.append((start, record))


def number(raw: str, column: str) -> int | float | None:
    """A cell as a number, None when empty."""
    text = raw.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise CellError(column, f"{raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise CellError(column, f"{raw!r} is not a number")
    return value


def count(raw: str, column: str) -> int | None:
    """A stock count, None when empty. Shops report oversold stock as negative: that is none in stock."""
    value = number(raw, column)
    if value is None:
        return None
    if value != int(value):
        raise CellError(column, f"{raw!r} is not a whole number")
    return max(int(value), 0)


YES = frozenset({"1", "yes", "y", "true", "instock", "in stock"})
NO = frozenset({"0", "no", "n", "false", "outofstock", "out of stock"})


def flag(raw: str, column: str) -> bool | None:
    text = raw.strip().lower()
    if not text:
        return None
    if text in YES:
        return True
    if text in NO:
        return False
    raise CellError(column, f"{raw!r} is not yes or no (1/0, true/false)")


def split_list(raw: str, separator: str = ",") -> list[str]:
    """Comma-separated values as shops write them, where `\\,` is a comma inside a value."""
    parts = re.split(rf"(?<!\\){re.escape(separator)}", raw)
    return [part.replace(f"\\{separator}", separator).strip() for part in parts if part.strip()]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ------------------------------------------------------------------------------------------------ HTML

_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "dl",
        "dt",
        "dd",
        "hr",
    }
)
_HIDDEN = frozenset({"script", "style", "template", "head"})
_CELLS = frozenset({"td", "th"})


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
        elif tag in _CELLS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in _BLOCKS and tag != "li":  # the next item (or the list's end) starts a line anyway
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:  # in HTML a line break in the text is a space; only elements break lines
            self.parts.append(data.replace("\n", " "))


def strip_html(html: str) -> str:
    """Plain text of an HTML description: entities decoded, block elements on lines of their own, runs of
    blank space collapsed (one blank line at most between paragraphs). Text without tags keeps its lines."""
    if not _TAG.search(html):
        return _tidy(unescape(html))
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    lines = [re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
