"""The page's words in Dutch and English, and which language a browser tab gets.

Every label, button, status and message the page itself writes comes from MESSAGES (answers come from
the answer path, which already answers in the question's language). A tab starts in the browser's
language (Accept-Language: Dutch for nl*, English otherwise) unless `assistant chat --lang nl|en`
fixes the start language; the NL | EN switch changes it without reloading anything.
"""

from __future__ import annotations

LANGUAGES = ("nl", "en")
DEFAULT = "en"
CHOICES = ("auto",) + LANGUAGES  # `assistant chat --lang`

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "page.title": "Ask the documents",
        "page.subtitle": "Answers come only from the indexed Dutch government documents, with numbered citations you can check.",
        "lang.label": "Language",
        "question.placeholder": "Ask a question, e.g. Why was there no projectplan for Sezen?",
        "send": "Send",
        "new_conversation": "New conversation",
        "source.heading": "### Source",
        "add.heading": "Add documents",
        "add.label": "Upload .txt, .md, .pdf, .docx, .html, .odt, .ods, .xlsx, .pptx, .eml or .msg",
        "settings.heading": "Settings",
        "k.label": "Passages per question (k)",
        "busy.previous": "Still answering the previous question: ask again when it is done.",
        # conversation
        "conv.empty": "Ask a question about the documents, in Dutch or English. Answers cite numbered passages: "
                      "click a <b>[n]</b> to read it in its document.",
        "who.you": "You",
        "who.assistant": "Assistant",
        "query": "Search query:",
        "query.rewritten": "(rewritten from your follow-up)",
        "pending.searching": "Searching the documents…",
        "pending.writing": "Writing the answer…",
        "error.stopped": "Stopped.",
        "error.crash": "Something went wrong while answering ({what}).",
        "note.unsupported.one": "the sentence citing this passage is not supported by it",
        "note.unsupported.many": "the sentences citing these passages are not supported by them",
        "note.unsupported.check": "Check the passages before relying on the answer.",
        "note.invalid": "The model cited {refs}, which it was not given; removed.",
        "timings": "first token {first:.1f} s · total {total:.1f} s",
        "passages.evidence": "Evidence given to the model",
        "quote.label": "Source:",
        "passages.nearest": "Nearest passages",
        "cite.show": "show passage {n}",
        "cite.unsupported": "not supported by this passage: check it",
        "cite.attributed": "show passage {n} (added by the support check: the model did not cite it)",
        "page": "p. {page}",
        # source panel
        "source.empty": "Click a citation <b>[n]</b> or a passage to read it here, highlighted in its document.",
        "source.chars": "characters {start}–{end}",
        "source.unsupported": "⚠ Not supported: the answer sentence citing this passage does not match it well. "
                              "Check it before relying on it.",
        "source.cited_for": "Cited for:",
        "source.changed": "The document changed since this answer; showing the passage alone.",
        "viewer.open_page": "Open at page {page}",
        "viewer.open": "Open document",
        "viewer.open_short": "open",
        "viewer.page_of": "page {page} of {pages}",
        "viewer.prev": "‹ previous page",
        "viewer.next": "next page ›",
        "viewer.original": "Original PDF",
        "viewer.as_text": "Indexed text",
        "viewer.as_page": "Page view",
        "viewer.image_alt": "Page {page} of {title}",
        "viewer.ocr": "This page was read by OCR: it has no text layer, so the cited sentence cannot be marked on it.",
        "viewer.not_found": "The cited sentence was not found in this page's text layer; read it in the indexed text.",
        "viewer.partly": "The page's text differs a little from the indexed text: the marked parts are what they share.",
        "viewer.elsewhere": "The cited passage is on page {page}.",
        "viewer.rotated": "This page is rotated: the cited sentence is not marked on it.",
        "viewer.text_only": "The original file of this document cannot be shown here: this is its indexed text.",
        "viewer.window": "A long document: shown are characters {first} to {last} of {total}, around the cited passage.",
        "viewer.render_failed": "The page could not be drawn: {why}",
        # statistics
        "stats.model": "Model",
        "stats.embedder": "Embedder",
        "stats.documents": "Documents",
        "stats.documents.value": "{n} ({uploaded} uploaded)",
        "stats.chunks": "Chunks",
        "stats.updated": "Last update",
        "stats.folder": "Index folder",
        "stats.shared": "Shared index",
        # uploads
        "upload.failed": "Upload failed: {error}",
        "upload.checking": "Checking files",
        "upload.ocr": "Reading scanned pages (OCR), page",
        "upload.embedding": "Embedding new passages",
        "upload.loading": "Reloading the search index",
        "upload.indexed": "Indexed: {added} added, {updated} updated ({embedded} passages embedded, {total} in the "
                          "index, {seconds:.1f} s). They are searchable now.",
        "upload.new": "New: {names}",
        "upload.replaced": "Replaced: {names}",
        "upload.none": "none",
        "upload.skipped": "Skipped {name}: {reason}",
        "upload.kept": "Indexed {name} as one document: {reason}",
        "upload.no_files": "No files.",
        # document management
        "docs.heading": "Documents",
        "docs.empty": "No documents in the index yet.",
        "docs.col.title": "Title",
        "docs.col.pages": "Pages",
        "docs.col.chunks": "Chunks",
        "docs.col.added": "Added",
        "docs.remove": "Remove",
        "docs.reindex": "Re-index",
        "docs.confirm": "Remove “{title}” from the index?",
        "docs.yes": "Yes, remove",
        "docs.cancel": "Cancel",
        "docs.working.remove": "Removing {name}…",
        "docs.working.reindex": "Re-indexing {name}…",
        "docs.removed": "Removed {name}: its passages no longer appear in answers ({total} chunks left in the index).",
        "docs.removed.file": "The file was deleted from {folder}.",
        "docs.removed.kept": "Its file stays in its folder: the next `assistant ingest` of that folder adds it again.",
        "docs.reindexed": "Re-indexed {name}: {what} ({embedded} passages embedded, {seconds:.1f} s).",
        "docs.reindexed.changed": "its text changed and was indexed again",
        "docs.reindexed.same": "its text is unchanged, the index already holds it",
        "docs.failed": "Could not change {name}: {error}",
        "docs.unknown_date": "—",
        "docs.summarize": "Summarise",
        "summary.question": "Summarise: {title}",
        "summary.progress": "section {done} of {total}…",
        "summary.which": "Which document? Name it (\u201csummarise <title>\u201d), open a source first, or use \u201cSummarise\u201d on a document in the list.",
        "summary.empty": "The model wrote no usable sentence for this document; try again or ask a question.",
        "summary.omitted": "{n} sections were not summarised (over the cap on sections; the longest were chosen).",
        "summary.cached": "Summary made earlier for this version of the document.",
        "passages.sections": "Sections summarised",
        # filters (the same as --where on the command line)
        "filters.heading": "Search only in",
        "filters.municipality": "Municipality",
        "filters.year": "Year",
        "filters.type": "Type of document",
        "filters.info": "Nothing chosen: all documents. Applies to the next question.",
        "filters.note": "Searched only documents with {where}",
        # export of the conversation (export_controls.py)
        "export.copy": "Copy with sources",
        "export.copied": "Copied: question, quote, answer and sources.",
        "export.copy_failed": "Could not copy: use a download instead.",
        "export.markdown": "Download Markdown",
        "export.docx": "Download Word (.docx)",
        # saved conversations (ui/conversations.py)
        "convs.heading": "Conversations",
        "convs.empty": "No saved conversations yet: every answer is saved here.",
        "convs.turns": "{n} questions",
        "convs.turns.one": "1 question",
        "convs.rename": "Rename",
        "convs.delete": "Delete",
        "convs.confirm": "Delete this conversation for good?",
        "convs.yes": "Yes, delete",
        "convs.cancel": "Cancel",
        "convs.save": "Save",
        "convs.open": "Open this conversation",
        "convs.gone": "That conversation is not there any more.",
    },
    "nl": {
        "page.title": "Vraag het de documenten",
        "page.subtitle": "Antwoorden komen alleen uit de geïndexeerde overheidsdocumenten, met genummerde "
                         "bronvermeldingen die je kunt controleren.",
        "lang.label": "Taal",
        "question.placeholder": "Stel een vraag, bijv. Waarom is er geen projectplan voor Sezen opgesteld?",
        "send": "Verstuur",
        "new_conversation": "Nieuw gesprek",
        "source.heading": "### Bron",
        "add.heading": "Documenten toevoegen",
        "add.label": "Upload .txt, .md, .pdf, .docx, .html, .odt, .ods, .xlsx, .pptx, .eml of .msg",
        "settings.heading": "Instellingen",
        "k.label": "Passages per vraag (k)",
        "busy.previous": "De vorige vraag wordt nog beantwoord: stel je vraag opnieuw als die klaar is.",
        "conv.empty": "Stel een vraag over de documenten, in het Nederlands of het Engels. Antwoorden verwijzen naar "
                      "genummerde passages: klik op een <b>[n]</b> om die in het document te lezen.",
        "who.you": "Jij",
        "who.assistant": "Assistent",
        "query": "Zoekvraag:",
        "query.rewritten": "(herschreven uit je vervolgvraag)",
        "pending.searching": "De documenten worden doorzocht…",
        "pending.writing": "Het antwoord wordt geschreven…",
        "error.stopped": "Gestopt.",
        "error.crash": "Er ging iets mis bij het beantwoorden ({what}).",
        "note.unsupported.one": "de zin die naar deze passage verwijst, wordt er niet door ondersteund",
        "note.unsupported.many": "de zinnen die naar deze passages verwijzen, worden er niet door ondersteund",
        "note.unsupported.check": "Controleer de passages voordat je op het antwoord vertrouwt.",
        "note.invalid": "Het model verwees naar {refs}, die het niet had gekregen; verwijderd.",
        "timings": "eerste woord {first:.1f} s · totaal {total:.1f} s",
        "passages.evidence": "Bewijs dat het model kreeg",
        "quote.label": "Bron:",
        "passages.nearest": "Dichtstbijzijnde passages",
        "cite.show": "toon passage {n}",
        "cite.unsupported": "niet ondersteund door deze passage: controleer het",
        "cite.attributed": "toon passage {n} (toegevoegd door de controle: het model verwees er niet zelf naar)",
        "page": "p. {page}",
        "source.empty": "Klik op een bronvermelding <b>[n]</b> of een passage om die hier te lezen, gemarkeerd in "
                        "het document.",
        "source.chars": "tekens {start}–{end}",
        "source.unsupported": "⚠ Niet ondersteund: de zin in het antwoord die naar deze passage verwijst, past er "
                              "slecht bij. Controleer het voordat je erop vertrouwt.",
        "source.cited_for": "Geciteerd voor:",
        "source.changed": "Het document is gewijzigd sinds dit antwoord; alleen de passage wordt getoond.",
        "viewer.open_page": "Openen op pagina {page}",
        "viewer.open": "Document openen",
        "viewer.open_short": "openen",
        "viewer.page_of": "pagina {page} van {pages}",
        "viewer.prev": "‹ vorige pagina",
        "viewer.next": "volgende pagina ›",
        "viewer.original": "Originele pdf",
        "viewer.as_text": "Geïndexeerde tekst",
        "viewer.as_page": "Paginaweergave",
        "viewer.image_alt": "Pagina {page} van {title}",
        "viewer.ocr": "Deze pagina is met OCR gelezen: ze heeft geen tekstlaag, dus de geciteerde zin kan er niet op gemarkeerd worden.",
        "viewer.not_found": "De geciteerde zin staat niet in de tekstlaag van deze pagina; lees hem in de geïndexeerde tekst.",
        "viewer.partly": "De tekst van de pagina wijkt iets af van de geïndexeerde tekst: gemarkeerd is wat ze gemeen hebben.",
        "viewer.elsewhere": "De geciteerde passage staat op pagina {page}.",
        "viewer.rotated": "Deze pagina is gedraaid: de geciteerde zin wordt er niet op gemarkeerd.",
        "viewer.text_only": "Het originele bestand van dit document kan hier niet getoond worden: dit is de geïndexeerde tekst.",
        "viewer.window": "Een lang document: getoond worden de tekens {first} tot {last} van {total}, rond de geciteerde passage.",
        "viewer.render_failed": "De pagina kon niet getekend worden: {why}",
        "stats.model": "Taalmodel",
        "stats.embedder": "Embeddingmodel",
        "stats.documents": "Documenten",
        "stats.documents.value": "{n} ({uploaded} geüpload)",
        "stats.chunks": "Fragmenten",
        "stats.updated": "Laatst bijgewerkt",
        "stats.folder": "Indexmap",
        "stats.shared": "Gedeelde index",
        "upload.failed": "Uploaden mislukt: {error}",
        "upload.checking": "Bestanden controleren",
        "upload.ocr": "Gescande pagina's lezen (OCR), pagina",
        "upload.embedding": "Nieuwe passages inbedden",
        "upload.loading": "De zoekindex opnieuw laden",
        "upload.indexed": "Geïndexeerd: {added} toegevoegd, {updated} bijgewerkt ({embedded} passages ingebed, "
                          "{total} in de index, {seconds:.1f} s). Ze zijn nu doorzoekbaar.",
        "upload.new": "Nieuw: {names}",
        "upload.replaced": "Vervangen: {names}",
        "upload.none": "geen",
        "upload.skipped": "Overgeslagen: {name}: {reason}",
        "upload.kept": "{name} als één document geïndexeerd: {reason}",
        "upload.no_files": "Geen bestanden.",
        "docs.heading": "Documenten",
        "docs.empty": "Er staan nog geen documenten in de index.",
        "docs.col.title": "Titel",
        "docs.col.pages": "Pagina's",
        "docs.col.chunks": "Fragmenten",
        "docs.col.added": "Toegevoegd",
        "docs.remove": "Verwijderen",
        "docs.reindex": "Opnieuw indexeren",
        "docs.confirm": "“{title}” uit de index verwijderen?",
        "docs.yes": "Ja, verwijderen",
        "docs.cancel": "Annuleren",
        "docs.working.remove": "{name} wordt verwijderd…",
        "docs.working.reindex": "{name} wordt opnieuw geïndexeerd…",
        "docs.removed": "{name} is verwijderd: de passages komen niet meer in antwoorden voor ({total} fragmenten "
                        "over in de index).",
        "docs.removed.file": "Het bestand is verwijderd uit {folder}.",
        "docs.removed.kept": "Het bestand blijft in zijn map: de volgende `assistant ingest` van die map voegt het "
                             "weer toe.",
        "docs.reindexed": "{name} is opnieuw geïndexeerd: {what} ({embedded} passages ingebed, {seconds:.1f} s).",
        "docs.reindexed.changed": "de tekst was gewijzigd en is opnieuw geïndexeerd",
        "docs.reindexed.same": "de tekst is ongewijzigd, de index bevat die al",
        "docs.failed": "{name} kon niet worden gewijzigd: {error}",
        "docs.unknown_date": "—",
        "docs.summarize": "Samenvatten",
        "summary.question": "Vat samen: {title}",
        "summary.progress": "deel {done} van {total}…",
        "summary.which": "Welk document? Noem het (\u201cvat <titel> samen\u201d), open eerst een bron, of gebruik \u201cSamenvatten\u201d bij een document in de lijst.",
        "summary.empty": "Het model schreef voor dit document geen bruikbare zin; probeer het opnieuw of stel een vraag.",
        "summary.omitted": "{n} delen zijn niet samengevat (boven het maximum aantal delen; de langste zijn gekozen).",
        "summary.cached": "Eerder gemaakte samenvatting van deze versie van het document.",
        "passages.sections": "Samengevatte delen",
        "filters.heading": "Alleen zoeken in",
        "filters.municipality": "Gemeente",
        "filters.year": "Jaar",
        "filters.type": "Soort document",
        "filters.info": "Niets gekozen: alle documenten. Geldt voor de volgende vraag.",
        "filters.note": "Alleen gezocht in documenten met {where}",
        "export.copy": "Kopieer met bronnen",
        "export.copied": "Gekopieerd: vraag, citaat, antwoord en bronnen.",
        "export.copy_failed": "Kopiëren lukte niet: gebruik een download.",
        "export.markdown": "Markdown downloaden",
        "export.docx": "Word (.docx) downloaden",
        "convs.heading": "Gesprekken",
        "convs.empty": "Nog geen bewaarde gesprekken: elk antwoord wordt hier bewaard.",
        "convs.turns": "{n} vragen",
        "convs.turns.one": "1 vraag",
        "convs.rename": "Hernoemen",
        "convs.delete": "Verwijderen",
        "convs.confirm": "Dit gesprek definitief verwijderen?",
        "convs.yes": "Ja, verwijderen",
        "convs.cancel": "Annuleren",
        "convs.save": "Opslaan",
        "convs.open": "Open dit gesprek",
        "convs.gone": "Dat gesprek bestaat niet meer.",
    },
}


def t(lang: str, key: str, **values) -> str:
    """The message `key` in `lang` (English when the language is not one of ours), filled in."""
    table = MESSAGES.get(lang) or MESSAGES[DEFAULT]
    text = table.get(key)
    if text is None:
        raise KeyError(f"no {lang!r} text for {key!r}: add it to MESSAGES in assistant/ui/i18n.py")
    return text.format(**values) if values else text


def from_accept_language(header: str | None) -> str:
    """The language for a browser's Accept-Language header: "nl" when its most preferred language we
    know is Dutch (nl, nl-NL, nl-BE, ...), else "en". q-values are honoured; "*" means nothing."""
    ranked = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else DEFAULT


def start_language(choice: str, accept_language: str | None) -> str:
    """A new tab's language: the `--lang` choice, or with "auto" the browser's."""
    if choice in LANGUAGES:
        return choice
    if choice != "auto":
        raise ValueError(f"unknown interface language {choice!r}: use one of {', '.join(CHOICES)}")
    return from_accept_language(accept_language)
