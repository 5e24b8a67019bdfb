"""Excel (.xlsx): openpyxl (read_only, data_only: the values Excel last computed, not formulas) on a
copy of the workbook's XML parts made with bounded reads (readers/zipsafe.py), each checked to have
no DTD first (readers/xmlsafe.refuse_dtd: openpyxl parses with ElementTree). One section per sheet,
a `Blad: <name>` line, then one line per row with the first row's headers (readers/rows.py).
Bounds (readers/limits.py): MAX_SHEET_CELLS cells per file, MAX_SHEET_ROWS rows with text per sheet,
and at most 1,048,576 rows walked per sheet (Excel's own maximum: a row number beyond it would only
make openpyxl yield empty rows)."""

from __future__ import annotations

import datetime as dt

from ..errors import InputError
from . import xmlsafe, zipsafe
from .limits import MAX_SHEET_CELLS, MAX_SHEET_ROWS
from .table import row_lines as table_lines

SUFFIXES = (".xlsx",)
EXCEL_MAX_ROWS = 1_048_576


def read(data: bytes, name: str, **_) -> str:
    import openpyxl

    parts = zipsafe.xml_parts(data, name, ".xlsx")
    for member, xml in parts.items():
        xmlsafe.refuse_dtd(xml, name, member)
    try:
        wb = openpyxl.load_workbook(zipsafe.repack(parts), read_only=True, data_only=True)
    except InputError:
        raise
    except Exception as e:  # openpyxl raises KeyError, InvalidFileException, ... on a damaged workbook
        raise InputError(f"{name}: not a valid .xlsx ({type(e).__name__}: {e})") from e
    out = []
    cells = 0
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()  # a lying <dimension> must not pad every row to 16,384 columns
            rows: list[list[str]] = []
            for walked, row in enumerate(ws.iter_rows(values_only=True), 1):
                if walked > EXCEL_MAX_ROWS:
                    raise InputError(f"{name}: sheet {ws.title!r} has rows beyond Excel's {EXCEL_MAX_ROWS:,}")
                cells += len(row)
                if cells > MAX_SHEET_CELLS:
                    raise InputError(f"{name}: more than {MAX_SHEET_CELLS:,} cells; split the file")
                values = [_value(v) for v in row]
                if any(values):
                    rows.append(values)
                    if len(rows) > MAX_SHEET_ROWS:
                        raise InputError(f"{name}: sheet {ws.title!r} has more than {MAX_SHEET_ROWS:,} rows; split the file")
            lines = table_lines(rows)
            if lines:
                out.append("\n".join([f"Blad: {ws.title}"] + lines))
    finally:
        wb.close()
    return "\n\n".join(out)


def _value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "ja" if v else "nee"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ", timespec="minutes")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return str(v)
