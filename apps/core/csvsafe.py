"""CSV that a spreadsheet opens as data, never as formulas (OWASP's rule against CSV injection).

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read by
Excel, LibreOffice or Google Sheets as a formula (``=HYPERLINK(...)``, ``@SUM(...)``); such a
cell gets a leading single quote, which spreadsheets show as text. Only strings are touched:
numbers (``int``, ``float``, ``Decimal``) are written as they are, so ``-1.5`` in a numeric column
stays a number. Every CSV the product writes goes through ``writer``::

    out = csvsafe.writer(file_like)
    out.writerow(["title", "clicks"])
    out.writerow(["=HYPERLINK(\"https://evil.example\")", -3])   # '=HYPERLINK(...), -3
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """``value`` for a CSV cell: a string that a spreadsheet would take for a formula is quoted
    with a leading ``'``; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Writer:
    def __init__(self, csv_writer):
        self._writer = csv_writer

    def writerow(self, row: Iterable):
        return self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable]):
        for row in rows:
            self.writerow(row)


def writer(file_like, **options) -> _Writer:
    """``csv.writer`` whose rows pass through ``cell`` first."""
    return _Writer(csv.writer(file_like, **options))
