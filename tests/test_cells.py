"""A question about one cell of a quoted table row is answered by code with that cell (cells.py)."""

import pytest
from fakes import ScriptedGenerator, hashed_index

from assistant.answer import Assistant, AnswerSettings
from assistant.cells import answer_cell
from assistant.evidence import EvidenceSelector, EvidenceSettings, approx_tokens
from assistant.prompts import Prompts
from assistant.retrieve import HybridRetriever

ROW = "Project: Fietsroute Oost | Budget 2025: € 1,2 mln | Budget 2026: € 1,5 mln | Verantwoordelijke: Afdeling Mobiliteit"


@pytest.mark.parametrize("question, header, value", [
    ("Wat is het budget voor 2026 van project Fietsroute Oost?", "Budget 2026", "€ 1,5 mln"),
    ("Hoeveel budget heeft Fietsroute Oost in 2025?", "Budget 2025", "€ 1,2 mln"),
    ("Wie is verantwoordelijk voor Fietsroute Oost?", "Verantwoordelijke", "Afdeling Mobiliteit"),  # stems
    ("What is the 2026 budget of Fietsroute Oost?", "Budget 2026", "€ 1,5 mln"),
])
def test_the_named_row_and_column_give_the_cell(question, header, value):
    cell = answer_cell(question, ROW)
    assert cell is not None and (cell.header, cell.value, cell.row) == (header, value, "Fietsroute Oost")


@pytest.mark.parametrize("question, row", [
    ("Wat is het budget van Fietsroute Oost?", ROW),  # two budget columns: which one is not certain
    ("Wat is het budget voor 2026 van Fietsroute West?", ROW),  # another row than the quoted one
    ("Wat is het budget voor 2026 van Fietsroute Oost?", "Fietsroute Oost kost in 2026 € 1,5 mln."),  # no row line
    ("Wat is het budget voor 2026 van Fietsroute Oost?", "Fietsroute Oost | € 1,2 mln | € 1,5 mln"),  # no headers
    ("Wat kost project 1,5 in 2026?", "Project: 1,5 | Budget 2026: € 3 mln"),  # a number does not name a row
])
def test_anything_less_certain_is_left_to_the_model(question, row):
    assert answer_cell(question, row) is None


def _assistant(tmp_path, prompts_dir, reply, **settings):
    docs = tmp_path / "docs"
    docs.mkdir(parents=True)
    (docs / "begroting.txt").write_text(
        "Begroting mobiliteit 2025-2026\n\nDe raad stelt de budgetten per project vast.\n\n"
        "Project: Speeltuin Noord | Budget 2025: € 40.000 | Budget 2026: € 60.000 | Verantwoordelijke: Team Spelen\n"
        + ROW + "\n"
        "Project: Snelfietspad West | Budget 2025: € 2,1 mln | Budget 2026: € 0,4 mln | Verantwoordelijke: Team Verkeer\n\n"
        "De bedragen zijn inclusief btw.\n", encoding="utf-8")
    idx, emb = hashed_index(tmp_path / "index", docs)
    prompts = Prompts(prompts_dir)
    selector = EvidenceSelector(idx, EvidenceSettings(), approx_tokens, prompts.excerpts)
    gen = ScriptedGenerator(reply)
    return Assistant(HybridRetriever(idx, emb), gen, prompts, selector, emb,
                     settings=AnswerSettings(min_similarity=0.0, **settings)), gen


def test_cell_question_is_answered_from_the_quoted_row_without_the_model(tmp_path, prompts_dir):
    a, gen = _assistant(tmp_path, prompts_dir, "Het budget is € 9 mln [1].")
    events = list(a.stream("Wat is het budget voor 2026 van project Fietsroute Oost?"))
    answer = events[-1].data
    assert answer.quote is not None and answer.quote.text == ROW
    assert answer.text == f"Budget 2026 van Fietsroute Oost: € 1,5 mln [{answer.quote.n}]."
    assert answer.decision.cell == "Budget 2026" and answer.to_json()["decision"]["cell"] == "Budget 2026"
    assert answer.citations and answer.citations[0].supported and not answer.abstained
    assert gen.calls == []  # the model was not asked
    assert [e.kind for e in events].index("quote") < [e.kind for e in events].index("token")
    english = a.answer("What is the 2025 budget of Fietsroute Oost?")
    assert english.text.startswith("Budget 2025 of Fietsroute Oost: € 1,2 mln [")


def test_off_or_uncertain_goes_to_the_model(tmp_path, prompts_dir):
    a, gen = _assistant(tmp_path, prompts_dir, "Het budget is € 1,5 mln [1].", table_cells=False)
    answer = a.answer("Wat is het budget voor 2026 van project Fietsroute Oost?")
    assert gen.calls and answer.decision.cell is None
    a, gen = _assistant(tmp_path / "b", prompts_dir, "Twee budgetten [1].")
    answer = a.answer("Wat is het budget van Fietsroute Oost?")
    assert gen.calls and answer.decision.cell is None
