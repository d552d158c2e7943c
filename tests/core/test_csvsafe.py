"""The exports' CSV writer: what csv.writer wrote for ordinary rows, and quoting and
formula guards where csv.writer had none."""

from __future__ import annotations

import csv
import io

import pytest

from app.platform import csvsafe

ORDINARY = [
    ["id", "subject", "minutes", "notes", "flag", "nothing"],
    [1, "Maths", 45, 'say "hi", then\nleave', True, None],
    [2, "", 0, "1.5", False, "x,y"],
]


def test_ordinary_rows_are_what_csv_writer_wrote() -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(ORDINARY)
    assert csvsafe.lines(ORDINARY) == buffer.getvalue()


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("a\rb", '"a\rb"'),
        ("=1+1", "'=1+1"),
        ("a\r=1", '"a\r\'=1"'),
        ("a\n@x\r\n+y", "\"a\n'@x\r\n'+y\""),
        ("\t-1", "'\t-1"),
        ("\r\r=1", "\"'\r'\r'=1\""),
        ("a=b", "a=b"),
        (-5, "-5"),
        # Blanks a spreadsheet skips, full-width signs, and ";" (a separator in many
        # locales) before a formula.
        (" =1+1", "' =1+1"),
        ("\u3000=1+1", "'\u3000=1+1"),
        ("\u00a0-1", "'\u00a0-1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
        ('a;=HYPERLINK("x")', '"a;\'=HYPERLINK(""x"")"'),
        ("a; +1;\u3000-2", "\"a;' +1;'\u3000-2\""),
        ("x\n =1", '"x\n\' =1"'),
        # Blanks and semicolons before plain text change nothing but the quoting.
        (" hello", " hello"),
        ("Chapter 1; exercises", '"Chapter 1; exercises"'),
    ],
)
def test_line_breaks_are_quoted_and_formulas_defused_on_every_line(
    value: object, written: str
) -> None:
    assert csvsafe.cell(value) == written
    [row] = list(csv.reader(io.StringIO(csvsafe.line(["x", value]), newline="")))
    assert row[0] == "x"
    # Read with ";" as the separator, as many locales' spreadsheets do, no cell starts a
    # formula either.
    for cells in csv.reader(io.StringIO(csvsafe.line(["x", value]), newline=""), delimiter=";"):
        for text in cells:
            assert not text.lstrip(" \u3000\u00a0").startswith(tuple("=+@\uff1d\uff0b\uff20")), text
