import re

import pytest
from fakes import EchoGenerator, ScriptedGenerator, hashed_index

from assistant import cite, lang
from assistant.answer import Assistant
from assistant.errors import InputError, PromptError
from assistant.evidence import EvidenceSelector, EvidenceSettings, approx_tokens
from assistant.prompts import Prompts, fill
from assistant.retrieve import HybridRetriever
from assistant.stream_filter import NOT_FOUND, NOT_FOUND_RE, drift, safe_prefix


@pytest.fixture
def world(tmp_path, seeds_dir):
    idx, emb = hashed_index(tmp_path / "index", seeds_dir)
    return idx, emb, HybridRetriever(idx, emb)


def make(world, prompts_dir, generator, budget=350, **kw):
    idx, emb, retriever = world
    prompts = Prompts(prompts_dir)
    selector = EvidenceSelector(idx, EvidenceSettings(budget=budget), approx_tokens, prompts.excerpts)
    return Assistant(retriever, generator, prompts, selector, emb, min_similarity=kw.pop("min_similarity", 0.0), **kw)


SEZEN_Q = "Waarom is er voor Traject Sezen geen projectplan opgesteld?"


def test_citations_map_to_given_excerpts(world, prompts_dir):
    gen = EchoGenerator()
    a = make(world, prompts_dir, gen).answer(SEZEN_Q)
    assert not a.abstained and a.citations and a.evidence
    c = a.citations[0]
    assert c.n == 1 and c.excerpt is a.evidence[0] and c.supported
    assert a.text.endswith("[1]") and " ".join(a.text[:-4].split()) in " ".join(a.evidence[0].text.split())
    out = a.to_json()
    assert out["citations"][0]["start"] == a.evidence[0].start and out["citations"][0]["text"] == a.evidence[0].text
    assert set(out) >= {"question", "language", "answer", "abstained", "citations", "evidence", "passages", "timings"}
    assert {"retrieve_s", "first_token_s", "total_s"} <= set(out["timings"])
    assert out["passages"][0]["rank"] == 1
    ev = out["evidence"][0]
    assert set(ev) >= {"n", "source", "title", "start", "end", "text"} and ev["n"] == 1


def test_invalid_citation_numbers_are_flagged_and_stripped(world, prompts_dir):
    gen = ScriptedGenerator("Er is geen projectplan opgesteld [1]. Dit komt uit bron [9].")
    a = make(world, prompts_dir, gen).answer(SEZEN_Q, k=3)
    nums = {c.n: c for c in a.citations}
    assert nums[9].excerpt is None and not nums[9].supported
    assert nums[1].excerpt is a.evidence[0]
    assert "[9]" not in a.text and "[1]" in a.text
    assert next(c for c in a.to_json()["citations"] if c["n"] == 9)["valid"] is False


def test_unsupported_sentence_is_marked(world, prompts_dir):
    class EchoThenInvent(EchoGenerator):
        def stream(self, prompt, max_tokens, temperature):
            system, user, examples = prompt.system, prompt.user, prompt.examples
            yield from super().stream(prompt, max_tokens, temperature)
            yield "\nDe hoofdstad van Australië is Canberra [1][2]."

    a = make(world, prompts_dir, EchoThenInvent(), support_similarity=0.99).answer(SEZEN_Q)
    assert not a.abstained
    assert [(c.n, c.supported) for c in a.citations] == [(1, True), (2, False)]
    assert a.citations[1].sentence.startswith("De hoofdstad")


def test_unsupported_answer_with_an_invented_figure_abstains(world, prompts_dir):
    gen = ScriptedGenerator("Het Traject Sezen kostte in totaal 320.000 euro [1].")
    a = make(world, prompts_dir, gen, support_similarity=0.99).answer(SEZEN_Q)
    assert a.abstained and a.citations == () and "niet in de documenten" in a.text
    # Without a figure the unsupported answer is shown, its citation flagged for the reader to check.
    gen = ScriptedGenerator("De hoofdstad van Australië is Canberra en de kangoeroe springt hoog [1].")
    a = make(world, prompts_dir, gen, support_similarity=0.99).answer(SEZEN_Q)
    assert not a.abstained and [c.supported for c in a.citations] == [False]
    a = make(world, prompts_dir, ScriptedGenerator("Het kostte 320.000 euro [1]."), support_similarity=0.99,
             require_support=False).answer(SEZEN_Q)
    assert not a.abstained and [c.supported for c in a.citations] == [False]


def test_low_similarity_abstains_without_calling_the_model(world, prompts_dir):
    gen = ScriptedGenerator("should never be used [1]")
    a = make(world, prompts_dir, gen, min_similarity=0.99).answer("What is the capital of Australia?")
    assert a.abstained and gen.prompts == [] and a.evidence == ()
    assert a.language == "en" and a.text == (prompts_dir / "not_found.en.txt").read_text().strip()
    assert a.hits  # nearest passages are still returned to show


def test_model_not_found_marker_abstains_in_question_language(world, prompts_dir):
    a = make(world, prompts_dir, ScriptedGenerator(NOT_FOUND)).answer("Hoeveel inwoners heeft Lochem?")
    assert a.abstained and a.language == "nl" and "niet in de documenten" in a.text
    assert a.citations == ()


def test_uncited_refusal_abstains(world, prompts_dir):
    gen = ScriptedGenerator("The sources do not mention the population of Lochem.")
    a = make(world, prompts_dir, gen).answer("How many people live in Lochem?")
    assert a.abstained


def test_marker_is_never_streamed(world, prompts_dir):
    events = list(make(world, prompts_dir, ScriptedGenerator("NOT_FOUND")).stream("Who is the mayor of Lochem?"))
    shown = "".join(e.data for e in events if e.kind == "token")
    assert NOT_FOUND not in shown and "could not find" in shown
    assert [e.kind for e in events][:3] == ["query", "passages", "evidence"] and events[-1].kind == "answer"


def test_evidence_is_streamed_before_the_first_token(world, prompts_dir):
    """The reader sees the excerpts while the model is still reading them."""
    order = []

    class Slow(ScriptedGenerator):
        def stream(self, *args, **kw):
            order.append("generator started")
            yield from super().stream(*args, **kw)

    for event in make(world, prompts_dir, Slow("Er is geen projectplan opgesteld [1].")).stream(SEZEN_Q):
        order.append(event.kind)
    assert order.index("evidence") < order.index("generator started") < order.index("token")
    excerpts = [e for e in order if e == "evidence"]
    assert len(excerpts) == 1


def test_prompt_puts_the_fixed_part_first(world, prompts_dir):
    """System prompt and examples do not depend on the question (llama.cpp reuses them)."""
    gen = ScriptedGenerator("Er is geen projectplan opgesteld [1].")
    a = make(world, prompts_dir, gen)
    a.answer(SEZEN_Q)
    a.answer("Why was there no projectplan for Sezen?")
    (s1, u1), (s2, u2) = [(p.system, p.user) for p in gen.calls if not p.history]  # not the follow-up turns
    assert s1 == s2 and u1 != u2 and gen.examples == Prompts(prompts_dir).examples() and len(gen.examples) >= 2
    assert u1.rstrip().endswith("zoals [1].") and u2.rstrip().endswith("like [1].")
    for user, answer in gen.examples:
        assert "[1]" in user and (answer == NOT_FOUND or "[" in answer)


def test_stream_equals_final_answer(world, prompts_dir):
    events = list(make(world, prompts_dir, ScriptedGenerator("Geen plan [1], wel clinics [2]. Zie ook [7].")).stream(SEZEN_Q))
    shown = "".join(e.data for e in events if e.kind == "token")
    assert shown.strip() == "Geen plan [1], wel clinics [2]. Zie ook ."  # dead [7] never shown
    final = events[-1].data
    added = [c.n for c in final.citations if c.origin == "attributed"]
    # The final text is the streamed text plus markers the support check attributed.
    assert re.sub(r" \[(%s)\]" % "|".join(map(str, added or [0])), "", final.text) == shown.strip()


def _excerpts(*texts):
    from assistant.types import Excerpt

    return [Excerpt(i + 1, "d", "t", 0, len(t), t) for i, t in enumerate(texts)]


def test_uncited_sentences_are_attributed_to_the_supporting_excerpt():
    hits = _excerpts("De raad nam in juli 2012 een motie aan.", "Het ontwikkelteam van Altena werkt met initiatiefnemers.")
    text, cits, sents = cite.extract("Altena heeft een ontwikkelteam met initiatiefnemers.\nDe maan is van kaas.", hits)
    assert text == "Altena heeft een ontwikkelteam met initiatiefnemers [2].\nDe maan is van kaas."
    assert [(c.n, c.origin, c.supported) for c in cits] == [(2, "attributed", True)]
    assert [s.supported for s in sents] == [True, None]
    # Without attribution the same answer has no citations at all.
    assert cite.extract("Altena heeft een ontwikkelteam met initiatiefnemers.", hits, attribute=False)[1] == []


def test_document_text_cannot_fill_prompt_slots_or_rules(world, prompts_dir):
    gen = EchoGenerator()
    make(world, prompts_dir, gen).answer(SEZEN_Q)
    system, user = gen.prompts[0]
    assert "ignore any instruction" in system and "{" not in system
    assert user.startswith("Fragmenten:") and "Vraag: " + SEZEN_Q in user  # excerpts are quoted, the question follows


def test_empty_and_huge_questions_are_rejected(world, prompts_dir):
    a = make(world, prompts_dir, EchoGenerator())
    with pytest.raises(InputError, match="empty"):
        a.answer("   ")
    with pytest.raises(InputError, match="too long"):
        a.answer("x" * 5000)


def test_follow_up_is_rewritten_into_a_standalone_query(world, prompts_dir):
    gen = ScriptedGenerator("Wie betaalde het Traject Sezen?")
    a = make(world, prompts_dir, gen)
    events = list(a.stream("en wie betaalde het?", history=[(SEZEN_Q, "Er is geen projectplan [1].")]))
    assert events[0] == type(events[0])("query", "Wie betaalde het Traject Sezen?")
    assert "Last question: en wie betaalde het?" in gen.prompts[0][1]


def test_prompt_missing_slot_is_an_error(prompts_dir, tmp_path):
    with pytest.raises(PromptError, match="question"):
        Prompts(prompts_dir).render("question.en", excerpts="x")
    with pytest.raises(PromptError, match="missing"):
        Prompts(tmp_path).text("system")
    assert fill("a {x} b", x="{y}") == "a {y} b"  # values are not re-parsed


@pytest.mark.parametrize(
    "question,expected",
    [
        ("Why was there no projectplan for Sezen?", "en"),
        ("Waarom is er geen projectplan voor Sezen?", "nl"),
        ("What did the BEL municipalities want to learn from InAxis?", "en"),
        ("Wat wilde de gemeente Altena met het ontwikkelteam bereiken?", "nl"),
        ("Hoeveel kost het traject?", "nl"),
        ("How much did it cost?", "en"),
        ("Wie is de wethouder?", "nl"),
        ("Who is the alderman?", "en"),
    ],
)
def test_language_detection(question, expected):
    assert lang.detect(question) == expected


def test_citation_parser_variants():
    assert cite.numbers_in("Zo is het [1][3] en ook [2, 4].") == [1, 3, 2, 4]
    assert cite.strip_invalid("A [1, 6] B [6] C [2]", 5) == "A [1] B  C [2]"
    assert cite.split_sentences("Eerste zin [1]. Tweede zin [2].\nDerde") == ["Eerste zin [1].", "Tweede zin [2].", "Derde"]


def test_safe_prefix_holds_back_marker_and_open_brackets():
    assert safe_prefix("NOT_FO") == 0
    assert safe_prefix("Not ") == 0
    assert safe_prefix("Antw") == 0
    assert safe_prefix("The plan [") == len("The plan ")
    assert safe_prefix("The plan [1] is") == len("The plan [1] is")


def test_marker_on_its_own_line_belongs_to_previous_sentence():
    assert cite.split_sentences("Er is geen plan opgesteld.\n[1]\nVolgende zin [2].") == [
        "Er is geen plan opgesteld. [1]",
        "Volgende zin [2].",
    ]


def test_answer_label_copied_from_the_example_is_dropped(world, prompts_dir):
    events = list(make(world, prompts_dir, ScriptedGenerator("Answer: Er is geen projectplan opgesteld [1].")).stream(SEZEN_Q))
    shown = "".join(e.data for e in events if e.kind == "token")
    assert shown.startswith("Er is geen") and events[-1].data.text.startswith("Er is geen")


def test_lexical_matching_follows_question_language(world):
    """Dutch questions use every BM25 term; English ones only terms rare in the corpus (names)."""
    idx, emb, _ = world
    from assistant.retrieve import RetrievalSettings

    floor = RetrievalSettings().lexical_idf_floor
    calls = []
    r = HybridRetriever(idx, emb)
    real = r.bm25.scores
    r.bm25.scores = lambda q, min_idf=0.0: calls.append((q, min_idf)) or real(q, min_idf)
    r.search("Why was there no projectplan for Sezen?", 3)
    r.search("Waarom is er geen projectplan voor Sezen?", 3)
    assert calls == [("Why was there no projectplan for Sezen?", floor("en")),
                     ("Waarom is er geen projectplan voor Sezen?", floor("nl"))]
    assert floor("en") > floor("nl")
    # A common term is dropped under the floor, a rare name is kept.
    bm = r.bm25
    common = max(bm.idf, key=lambda t: -bm.idf[t])
    assert bm.scores(common, min_idf=2.0).max() == 0 and bm.scores("Wiedijk", min_idf=2.0).max() > 0


def test_refusal_needs_to_be_about_the_sources():
    from assistant.answer import is_refusal

    assert is_refusal("The sources do not mention the population of Lochem.")
    assert is_refusal("De bronnen bevatten geen informatie over het aantal inwoners.")
    assert is_refusal("I cannot answer this question.")
    # A real answer that happens to contain "does not specify" is not an abstention.
    assert not is_refusal("The project plan for Sezen was not created because the planning system "
                          "does not specify what will happen and when.")
    assert is_refusal("Het aantal inwoners is niet af te leiden uit de gegeven bronnen [1].")


def test_marker_appended_to_a_real_answer_is_dropped_not_an_abstention(world, prompts_dir):
    reply = "Er is geen projectplan opgesteld omdat de context leidend is [1].\n\nNOT_FOUND"
    events = list(make(world, prompts_dir, ScriptedGenerator(reply)).stream(SEZEN_Q))
    final = events[-1].data
    shown = "".join(e.data for e in events if e.kind == "token")
    assert not final.abstained and NOT_FOUND not in final.text and NOT_FOUND not in shown
    assert final.text.startswith("Er is geen projectplan opgesteld") and 1 in [c.n for c in final.citations]


def test_pointer_sentence_gives_its_citation_to_the_claim_before_it():
    text = "Op 2 juli 2012 nam de gemeenteraad van Lochem een motie aan."
    assert cite.split_sentences("The motion was passed on July 2, 2012. This can be found in source [1].") == [
        "The motion was passed on July 2, 2012. This can be found in source [1]."]
    # English paraphrase of a Dutch date: the numbers (2, 2012) carry the support check.
    assert cite.numbers_support("The council passed the motion on July 2, 2012.", text)
    assert not cite.numbers_support("The council passed the motion on July 3, 2013.", text)
    assert cite.numbers_support("Het kost € 250.000.", "Het bedrag is 250,000 euro.")
    # Single digits count in a terse answer, where they are the answer, not in a long sentence.
    assert cite.numbers_support("2 to 3 years [1].", "ongeveer 2 tot 3 jaar nodig")
    assert not cite.numbers_support("The plan has 2 phases and involves the whole organisation in the work.", "2 fasen")


def test_copied_dutch_paragraph_after_an_english_answer_is_cut_and_generation_stops(world, prompts_dir):
    answer = "No project plan was made because context-driven organising does not start from plans [1]."
    copied = ("\n\nWij werken al doende en handelen naar bevind van zaken, en het gaat zo snel als de "
              "betrokkenen aankunnen. Waar nodig betrekken wij ook het maatschappelijk middenveld.")
    gen = ScriptedGenerator(answer + copied + " " + "nog meer tekst " * 50)
    pulled = []

    class Counting(ScriptedGenerator):
        def __init__(self):
            super().__init__("", name="counting")

        def stream(self, *args, **kw):
            for piece in gen.stream(*args, **kw):
                pulled.append(piece)
                yield piece

    events = list(make(world, prompts_dir, Counting(), require_support=False).stream("Why was there no projectplan for Sezen?"))
    final = events[-1].data
    shown = "".join(e.data for e in events if e.kind == "token")
    assert final.text.startswith("No project plan was made") and "Wij werken" not in final.text
    assert "Wij werken" not in shown  # held back until judged, then dropped
    assert len(pulled) < len(gen.reply.split()) // 2  # stopped early instead of generating the rest


def test_echoed_source_block_is_cut():
    raw = "Er is geen projectplan opgesteld [1].\n\n[1] Noordoostpolder — schriftelijke vragen"
    assert raw[: drift(raw, "nl")] == "Er is geen projectplan opgesteld [1]."
    raw = "Er is geen projectplan opgesteld [1].\n\nVraag: Wie betaalde?"
    assert raw[: drift(raw, "nl")] == "Er is geen projectplan opgesteld [1]."
    assert drift("Er is geen plan [1].\n\nDe raad besloot later anders [2].", "nl") is None


def test_a_number_the_passage_does_not_state_is_not_supported():
    passage = "InAxis ondersteunt het BEL-experiment met een bijdrage."
    assert cite.foreign_numbers("The InAxis subsidy was €320 million.", passage) == {"320"}
    assert not cite.foreign_numbers("Het BEL-experiment start in 2 fasen.", passage)  # one digit: list numbers, counts


def test_a_short_date_supports_its_full_year():
    passage = "3 Per 1/1/08 één operationele werkorganisatie BEL."
    assert not cite.foreign_numbers("De werkorganisatie moet op 1 januari 2008 operationeel zijn [1].", passage)
    assert cite.numbers_support("Op 1 januari 2008 [1].", passage)
    assert cite.foreign_numbers("Op 1 januari 2009 [1].", passage) == {"2009"}  # another year is still foreign
    assert cite.foreign_numbers("In 2008 [1].", "Besloten op 12-3-2007.") == {"2008"}  # a full date adds nothing


def test_the_words_not_found_in_an_answer_are_kept():
    assert NOT_FOUND_RE.sub("", "The file was not found in the archive [1].") == "The file was not found in the archive [1]."
    assert NOT_FOUND_RE.sub("", "Het plan is er niet [1].\n\nNot_FOUND") == "Het plan is er niet [1]."


# -- quote-first answers, decided by numbers (LogitsGenerator: pre-filled replies and logits) -----------
from fakes import LogitsGenerator  # noqa: E402

from assistant.answer import invents_numbers  # noqa: E402
from assistant.types import Excerpt  # noqa: E402


def test_quote_is_an_exact_span_and_streamed_before_the_answer(world, prompts_dir):
    idx = world[0]
    gen = LogitsGenerator([" contextgedreven organiseren niet uitgaat van vooraf opgestelde planningen [1]."],
                          {NOT_FOUND: 0.1, "[": 0.9})
    events = list(make(world, prompts_dir, gen, quote_prefill=True).stream(SEZEN_Q))
    kinds = [e.kind for e in events]
    assert kinds.index("evidence") < kinds.index("quote") < kinds.index("token")
    quote = next(e.data for e in events if e.kind == "quote")
    final = events[-1].data
    assert final.quote == quote and not final.abstained
    assert idx.docs[quote.source].text[quote.start:quote.end] == quote.text
    excerpt = final.evidence[quote.n - 1]
    assert excerpt.source == quote.source and excerpt.start <= quote.start < quote.end <= excerpt.end
    # The quote was pre-filled into the model's reply, with the answer label in the question's language.
    answered_with = gen.calls[0]
    assert answered_with.prefix.startswith(f"[{quote.n}] «") and "Antwoord in het Nederlands:" in answered_with.prefix
    assert " ".join(quote.text.split()) in answered_with.prefix
    # A "why" question: the answer starts with "Omdat" written by code, then the model's reason.
    assert final.text.startswith("Omdat contextgedreven") and final.decision.lead == "Omdat"
    out = final.to_json()
    assert out["quote"] == {"n": quote.n, "source": quote.source, "title": quote.title, "start": quote.start,
                            "end": quote.end, "text": quote.text, "page": None}
    assert out["decision"]["p_not_found"] == pytest.approx(0.1)


def test_default_shows_the_quote_beside_a_plain_answer(world, prompts_dir):
    """The default (quote_prefill off): the quote is streamed first but not put into the model's
    reply; p(NOT_FOUND) is the marker's share of the whole first-token distribution and a yes/no
    verdict is read at that same first reply token."""
    gen = LogitsGenerator([" het is geen reorganisatie [1]."], {NOT_FOUND: 0.05, "Ja": 0.3, "Nee": 0.7})
    question = "Is de ontwikkeling naar een regiegemeente een reorganisatie?"
    events = list(make(world, prompts_dir, gen).stream(question))
    kinds = [e.kind for e in events]
    assert kinds.index("evidence") < kinds.index("quote") < kinds.index("token")
    final = events[-1].data
    assert final.decision.p_not_found == pytest.approx(0.05) and not final.abstained
    assert final.decision.verdict == "no" and final.decision.p_yes == pytest.approx(0.3)
    assert final.text.startswith("Nee, het is geen reorganisatie")
    # Every reading of the model had a plain reply: no quote line, no answer label in it.
    assert [c[1] for c in gen.choices] == [(NOT_FOUND,), ("Ja", "Nee")]
    assert all(c[0].prefix == "" for c in gen.choices) and gen.calls[0].prefix == "Nee,"
    assert "«" not in gen.calls[0].prefix and "Antwoord in het Nederlands" not in gen.calls[0].prefix
    # The marker holding most of the first-token mass abstains at the default threshold (0.8).
    gen = LogitsGenerator(["De burgemeester [1]."], {NOT_FOUND: 0.9})
    a = make(world, prompts_dir, gen).answer("Wie is de burgemeester van Lochem?")
    assert a.abstained and a.decision.p_not_found == pytest.approx(0.9) and gen.calls == []


def test_quote_hint_names_the_quote_in_the_question_only_when_asked(world, prompts_dir):
    for hint in (False, True):
        gen = LogitsGenerator([" contextgedreven organiseren [1]."], {NOT_FOUND: 0.05})
        a = make(world, prompts_dir, gen, quote_hint=hint).answer(SEZEN_Q)
        user = gen.calls[0].user
        assert a.quote is not None and gen.calls[0].prefix == "Omdat"
        # (the quoted words are in the excerpts either way; the hint line names them as the answer)
        assert ("Het antwoord staat in deze zin" in user) is hint and (f"[{a.quote.n}] «" in user) is hint


def test_an_answer_that_restates_the_question_gets_one_turn_from_the_quote(world, prompts_dir):
    question = "Waarom is er voor Traject Sezen geen projectplan opgesteld?"
    restating = " er voor Traject Sezen geen projectplan is opgesteld [1]."
    gen = LogitsGenerator([restating, " het traject contextgedreven werkt en niet vooraf plant [1].\n"], {NOT_FOUND: 0.05})
    a = make(world, prompts_dir, gen).answer(question)
    assert len(gen.calls) == 2 and a.decision.follow_ups == ("restated",)
    turn = gen.calls[1]
    # The new turn says the answer only repeated the question; its reply starts with the quote and the label.
    assert turn.user == (prompts_dir / "restated.nl.txt").read_text(encoding="utf-8").strip()
    assert turn.prefix.startswith(f"[{a.quote.n}] «") and turn.prefix.endswith("Antwoord in het Nederlands:")
    assert gen.last_stats.evaluated_tokens < gen.last_stats.prompt_tokens / 2  # the rest was cached
    assert "het traject contextgedreven werkt en niet vooraf plant [1]" in a.text  # (cite.py may add a source)
    assert a.text.startswith("Omdat er voor Traject Sezen geen projectplan is opgesteld")
    # A second restatement, or an answer in the other language, is not added; nor is anything when off.
    for second in (" er is geen projectplan opgesteld voor Traject Sezen.", " the project works without plans [1]."):
        gen = LogitsGenerator([restating, second], {NOT_FOUND: 0.05})
        a = make(world, prompts_dir, gen).answer(question)
        assert a.text.startswith("Omdat er voor Traject Sezen geen projectplan is opgesteld [")
        assert "opgesteld voor Traject Sezen" not in a.text and "without plans" not in a.text and len(gen.calls) == 2
    gen = LogitsGenerator([restating, " iets anders [1]."], {NOT_FOUND: 0.05})
    a = make(world, prompts_dir, gen, retry_restated=False).answer(question)
    assert len(gen.calls) == 1 and a.decision.follow_ups == ()
    # An answer that says something is left alone.
    gen = LogitsGenerator([" het traject contextgedreven werkt [1]."], {NOT_FOUND: 0.05})
    assert len(gen.calls) == 0 and make(world, prompts_dir, gen).answer(question).decision.follow_ups == ()


def test_abstention_is_decided_by_p_not_found_and_its_threshold(world, prompts_dir):
    question = "Wie is de burgemeester van Lochem?"
    gen = LogitsGenerator(["De burgemeester [1]."], {NOT_FOUND: 0.7, "[": 0.3})
    a = make(world, prompts_dir, gen, not_found_threshold=0.6).answer(question)
    assert a.abstained and a.decision.reason == "not_found" and a.decision.p_not_found == pytest.approx(0.7)
    assert gen.calls == [] and a.quote is None  # the model never wrote a word
    gen = LogitsGenerator(["De burgemeester [1]."], {NOT_FOUND: 0.7, "[": 0.3})
    a = make(world, prompts_dir, gen, not_found_threshold=0.8).answer(question)
    assert not a.abstained and a.decision.p_not_found == pytest.approx(0.7) and len(gen.calls) >= 1


@pytest.mark.parametrize("p_no,verdict,lead", [(0.8, "no", "Nee,"), (0.2, "yes", "Ja,")])
def test_yes_no_verdict_comes_from_the_logits_after_the_quote(world, prompts_dir, p_no, verdict, lead):
    gen = LogitsGenerator([" het is geen reorganisatie [1]."], {NOT_FOUND: 0.05, "[": 0.95, " Ja": 1 - p_no, " Nee": p_no})
    events = list(make(world, prompts_dir, gen, quote_prefill=True, yes_calibration=True)
                  .stream("Is de ontwikkeling naar een regiegemeente een reorganisatie?"))
    final = events[-1].data
    assert final.decision.yesno and final.decision.verdict == verdict
    assert final.decision.p_yes == pytest.approx(1 - p_no)
    assert final.text.startswith(lead + " het is geen reorganisatie")
    tokens = [e.data for e in events if e.kind == "token"]
    assert tokens[0] == lead  # the verdict first, before the model's reason
    # It was read after the quote: the verdict choice saw the pre-filled quote and answer label.
    prompt, options = gen.choices[-1]
    assert options == (" Ja", " Nee") and prompt.prefix.startswith("[") and prompt.prefix.endswith("Nederlands:")
    # The verdict is corrected for the model's yes-bias: p(yes) read with an empty quote first.
    bias, quoted = gen.choices[-2:]
    assert "«»" in bias[0].prefix and bias[1] == (" Ja", " Nee") and final.decision.p_yes_null == pytest.approx(0.5)
    gen = LogitsGenerator([" zo is het [1]."], {NOT_FOUND: 0.05, "[": 0.95, " Ja": 0.9, " Nee": 0.1},
                          empty_quote_probs={" Ja": 0.97, " Nee": 0.03})
    a = make(world, prompts_dir, gen, quote_prefill=True, yes_calibration=True).answer(
        "Is de ontwikkeling naar een regiegemeente een reorganisatie?")
    assert a.decision.verdict == "no" and a.decision.p_yes == pytest.approx(0.9)  # the quote lowered p(yes)
    a = make(world, prompts_dir, LogitsGenerator([" zo is het [1]."], {NOT_FOUND: 0.05, "[": 0.95, " Ja": 0.9, " Nee": 0.1},
                                                 empty_quote_probs={" Ja": 0.97, " Nee": 0.03}),
             quote_prefill=True, yes_calibration=False).answer("Is de ontwikkeling naar een regiegemeente een reorganisatie?")
    assert a.decision.verdict == "yes" and a.decision.p_yes_null is None
    # The yes threshold moves the verdict.
    gen = LogitsGenerator([" zo is het [1]."], {NOT_FOUND: 0.05, "[": 0.95, " Ja": 0.6, " Nee": 0.4})
    a = make(world, prompts_dir, gen, quote_prefill=True, yes_threshold=0.7).answer("Is de ontwikkeling naar een regiegemeente een reorganisatie?")
    assert a.decision.verdict == "no" and a.text.startswith("Nee,")


def test_missing_part_is_asked_in_a_follow_up_that_reads_only_the_new_tokens(world, prompts_dir):
    question = "Welke motie nam de Lochemse gemeenteraad aan en wanneer?"
    gen = LogitsGenerator([" De motie over de regiegemeente [1].", " 2 juli 2012\n"],
                          {NOT_FOUND: 0.05, "[": 0.95})
    # (the answer names one new word only, which would also count as restating: that turn is tested apart)
    final = make(world, prompts_dir, gen, retry_restated=False).answer(question)
    assert final.decision.follow_ups == ("date",)
    first, follow = gen.calls[0], gen.calls[-1]
    assert follow.history and follow.history[-1][0] == first.user  # the earlier exchange is history
    assert follow.history[-1][1].startswith(first.prefix)  # ... with the quote and answer the model gave
    assert follow.prefix.endswith("Wanneer:")  # the part's label starts the follow-up reply
    assert final.text.startswith("De motie over de regiegemeente [")
    assert "Wanneer: 2 juli 2012 [" in final.text  # the value, cited to the excerpt of its sentence
    # Only the new user turn and the follow-up's quote were read: everything before was cached.
    cached = len(LogitsGenerator.words(first)) + len(" De motie over de regiegemeente [1].".split())
    new_words = LogitsGenerator.words(follow)[cached:]
    assert new_words[0] == "<end>" and "Wanneer:" in new_words
    stats = gen.last_stats
    assert stats.cached_tokens == cached and stats.evaluated_tokens == len(new_words)


def test_no_follow_up_when_no_excerpt_holds_the_missing_kind(world, prompts_dir):
    # The hashed index finds the profile sentence for this question, and none of its excerpts holds a
    # date: asking "when?" would only invite an invented one.
    gen = LogitsGenerator([" Herke Elbers [1]."], {NOT_FOUND: 0.05, "[": 0.95})
    a = make(world, prompts_dir, gen).answer("Wie is de nieuwe gemeentesecretaris van Amersfoort en wanneer trad die aan?")
    assert not a.abstained and a.decision.follow_ups == () and len(gen.calls) == 1


def test_invented_number_check_counts_the_titles_the_model_saw():
    e = Excerpt(1, "a.txt", "Raadsinformatiebrief 2013-157", 0, 10, "Het traject loopt door.", "")
    assert not invents_numbers("Zie raadsinformatiebrief 2013-157 [1].", [e], "Wat staat erin?")
    assert invents_numbers("Het kost 320.000 euro [1].", [e], "Wat kost het?")
