"""HTML of the document panel: the indexed documents with summarise / remove / re-index buttons, and what a change did.

The buttons carry the document's source; static/documents.js asks for a confirmation in the row
before it triggers "remove" (no browser dialog), and app.py runs the change on the runtime.
"""

from __future__ import annotations

from ..documents import DocumentInfo
from ..index import IngestReport
from .i18n import DEFAULT, t as _t
from .render import _e


def _when(iso: str, lang: str) -> str:
    """"2026-11-25T11:02:33+0100" -> "2026-11-25 11:02" (the same in both languages)."""
    return iso[:16].replace("T", " ") if iso else _t(lang, "docs.unknown_date")


def render_documents(docs: list[DocumentInfo], lang: str = DEFAULT) -> str:
    if not docs:
        return f'<div class="docs"><div class="docs-empty">{_t(lang, "docs.empty")}</div></div>'
    head = "".join(f"<th>{_t(lang, k)}</th>" for k in ("docs.col.title", "docs.col.pages", "docs.col.chunks", "docs.col.added"))
    rows = []
    for d in docs:
        confirm = _e(_t(lang, "docs.confirm", title=d.title))
        about = f'<div class="doc-about">{_e(d.about)}</div>' if d.about else ""
        rows.append(
            f'<tr class="doc-row" data-source="{_e(d.source)}" data-uploaded="{str(d.uploaded).lower()}">'
            # The buttons sit under the title (the panel is narrow: a column of its own would not fit).
            f'<td class="doc-title">{_e(d.title)}{about}<div class="doc-source">{_e(d.source)}</div>'
            f'<div class="doc-actions">'
            f'<button type="button" class="doc-summarize" data-action="summarize">{_t(lang, "docs.summarize")}</button> '
            f'<button type="button" class="doc-reindex" data-action="reindex">{_t(lang, "docs.reindex")}</button> '
            f'<button type="button" class="doc-remove" data-action="ask-remove">{_t(lang, "docs.remove")}</button>'
            f'<div class="doc-confirm" hidden>{confirm} '
            f'<button type="button" class="doc-remove-yes" data-action="remove">{_t(lang, "docs.yes")}</button> '
            f'<button type="button" class="doc-remove-no" data-action="cancel">{_t(lang, "docs.cancel")}</button></div>'
            f'</div></td>'
            f'<td class="doc-pages">{d.pages if d.pages is not None else "—"}</td>'
            f'<td class="doc-chunks">{d.chunks}</td>'
            f'<td class="doc-added">{_e(_when(d.added, lang))}</td></tr>'
        )
    return (f'<div class="docs"><table class="docs-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def render_docs_status(action: str, name: str, report: IngestReport | None = None, error: str = "",
                       file_deleted: str = "", lang: str = DEFAULT) -> str:
    """action: "remove" / "reindex"; no report and no error: the change is running."""
    if error:
        return f'<div class="docs-status"><div class="problem">{_e(_t(lang, "docs.failed", name=name, error=error))}</div></div>'
    if report is None:
        return f'<div class="docs-status working">{_e(_t(lang, "docs.working." + action, name=name))}</div>'
    if action == "remove":
        parts = [_t(lang, "docs.removed", name=name, total=report.chunks_total)]
        parts.append(_t(lang, "docs.removed.file", folder=file_deleted) if file_deleted else _t(lang, "docs.removed.kept"))
    else:
        what = _t(lang, "docs.reindexed.changed" if report.updated or report.added else "docs.reindexed.same")
        parts = [_t(lang, "docs.reindexed", name=name, what=what, embedded=report.chunks_embedded, seconds=report.seconds)]
    return f'<div class="docs-status done" data-action="{action}"><div class="ok">{_e(" ".join(parts))}</div></div>'
