from assistant import sentences
from assistant.structure import Outline


def _texts(text):
    return [text[a:b] for a, b in sentences.split(text)]


def test_spans_are_exact_ordered_and_cover_every_word_of_the_seeds(seeds_dir):
    for path in sorted(seeds_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        spans = sentences.split(text)
        assert spans, path
        prev_end = 0
        for a, b in spans:
            piece = text[a:b]
            assert piece == piece.strip() and piece, (path.name, a, b)
            assert a >= prev_end  # ordered, no overlap
            assert len(piece) <= sentences.MAX_CHARS
            prev_end = b
        # Nothing but whitespace is left out.
        rest = "".join(text[x:y] for x, y in zip([0] + [b for _, b in spans], [a for a, _ in spans] + [len(text)]))
        assert not rest.strip(), (path.name, rest.strip()[:80])


def test_dutch_abbreviations_do_not_end_a_sentence():
    text = ("De raad heeft o.a. gesproken over de begroting m.b.t. het jaar 2014. Zie art. 5 van de wet. "
            "Op 1 jan. 2015 begon het. Het kost € 50.000,- per jaar.")
    assert _texts(text) == ["De raad heeft o.a. gesproken over de begroting m.b.t. het jaar 2014.",
                            "Zie art. 5 van de wet.", "Op 1 jan. 2015 begon het.", "Het kost € 50.000,- per jaar."]


def test_lines_short_fragments_and_long_enumerations():
    # A line break ends a sentence (form fields and headings have no full stop).
    assert _texts("Fractie:\tVrije Poldermensen\nNaam:\tHelga Wiedijk") == ["Fractie:\tVrije Poldermensen", "Naam:\tHelga Wiedijk"]
    # A fragment too short to stand alone joins the next sentence.
    assert _texts("Dhr. Jansen was er ook.") == ["Dhr. Jansen was er ook."]
    # A long sentence that enumerates with semicolons is split into its items.
    items = ["vertrek gemeentesecretaris", "toespraken van de burgemeester", "clinics voor medewerkers",
             "het bezoek aan gemeente Purmerend waar gewerkt wordt aan implementatie van contextgedreven werken",
             "een kostenpost van minstens enkele tonnen"]
    text = "Zaken als: " + "; ".join(items) + "."
    parts = _texts(text)
    assert len(parts) == len(items) and any("Purmerend" in p and "tonnen" not in p for p in parts)
    # A run-on text without any stop is cut at spaces.
    assert all(len(p) <= sentences.MAX_CHARS for p in _texts("woord " * 400))


def test_outline_gives_the_question_an_answer_belongs_to(seeds_dir):
    text = (seeds_dir / "000_a4ba55a0b15ccb7c.txt").read_text(encoding="utf-8")
    outline = Outline(text)
    at = text.index("is er geen projectplan opgesteld")
    assert outline.context(at).startswith("Vragen: — 1. Ligt er aan het 'Traject Sezen' een trajectplan")
    assert outline.is_mark(text.index("Vragen:"), text.index("Vragen:") + len("Vragen:"))
    # A passage that starts with its own heading is not labelled with the heading before it.
    other = (seeds_dir / "003_f2bde758e5f44873.txt").read_text(encoding="utf-8")
    at = other.index("Context van het project")
    assert Outline(other).context(at) == "" and Outline(other).context(at + 40) == "Context van het project"
