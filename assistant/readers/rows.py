"""Table rows as text lines, the same way for every format (ODF, .xlsx; PDF/DOCX tables likewise):
one line per row, each cell after its column's header: `Header: cell | Header: cell`. The first
non-empty row is the header row; a column without a header, or a row that only repeats the headers,
shows its cells alone."""

from __future__ import annotations


def cell_text(value: str) -> str:
    return " ".join(str(value).split())


def table_lines(rows: list[list[str]]) -> list[str]:
    rows = [[cell_text(c) for c in r] for r in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    headers = rows[0]
    lines = [" | ".join(c for c in headers if c)]
    for r in rows[1:]:
        cells = []
        for i, c in enumerate(r):
            if not c:
                continue
            h = headers[i] if i < len(headers) else ""
            cells.append(f"{h}: {c}" if h and h != c else c)
        lines.append(" | ".join(cells))
    return lines
