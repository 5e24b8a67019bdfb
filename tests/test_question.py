"""question.py: what a question asks, in Dutch and English, and whether an answer gives it."""

import pytest

from assistant.question import DATE, NAME, NUMBER, OTHER, PLACE, REASON, Part, analyse, answered, missing, restates, says_something


@pytest.mark.parametrize(
    "question,kinds",
    [
        ("Wie is de nieuwe gemeentesecretaris van Amersfoort en wanneer trad die aan?", [NAME, DATE]),
        ("Who is Amersfoort's new town clerk and when did they take office?", [NAME, DATE]),
        ("What is the Amersfoort 'Flexportaal' and since when has it existed?", [OTHER, DATE]),
        ("Wat is het Flexportaal van de gemeente Amersfoort en sinds wanneer bestaat het?", [OTHER, DATE]),
        ("Hoeveel clinics zijn er in het Sezentraject voorzien en voor wie?", [NUMBER, NAME]),
        ("How many clinics does the Sezen programme include, and who are they for?", [NUMBER, NAME]),
        ("Welk raadslid en welke fractie stelden de schriftelijke vragen?", [NAME, NAME]),
        ("Where will the joint BEL work organisation be housed, and why was that location chosen?", [PLACE, REASON]),
        ("Waarom is er geen projectplan voor Sezen opgesteld?", [REASON]),
        ("According to Sezen's coaches, how long does a complete transformation take?", [NUMBER]),
        ("Per wanneer moet de werkorganisatie BEL operationeel zijn?", [DATE]),
        ("Which outside analysts did Lochem's executive bring in?", [NAME]),
        # "and" inside a part is not a second question
        ("What do Blaricum and Eemnes have in common?", [OTHER]),
    ],
)
def test_parts_and_what_they_ask(question, kinds):
    q = analyse(question)
    assert [p.asks for p in q.parts] == kinds, q.parts
    assert q.multi == (len(kinds) > 1)


def test_respectively_is_recognised_in_both_languages():
    assert analyse("Welke externe bureaus begeleidden respectievelijk de BEL-gemeenten en Altena?").respectively
    assert analyse("Which firms supported Noordoostpolder and Lochem respectively?").respectively
    assert not analyse("Which firms supported Noordoostpolder?").respectively


@pytest.mark.parametrize(
    "question,yesno",
    [
        ("Is de ontwikkeling naar een regiegemeente in Lochem een reorganisatie?", True),
        ("Neemt het ontwikkelteam in Altena werk over van de afdelingen?", True),
        ("Hangt de duur van het Traject Sezen samen met hoe lang de interim blijft?", True),
        ("Will Sezen/Bascole stay on as permanent advisers to the municipality?", True),
        ("Was the mayor the one who initiated the Sezen culture change?", True),
        ("Is Altena's development team meant to be permanent?", True),
        ("Can you give examples of concrete projects Lochem selected?", False),  # a request
        ("Wie is de nieuwe gemeentesecretaris?", False),
        ("Wat is het uiteindelijke doel van het ontwikkelteam?", False),
        ("Why was there no projectplan for Sezen?", False),
    ],
)
def test_yes_no_questions(question, yesno):
    q = analyse(question)
    assert q.yesno is yesno
    if yesno:
        assert missing(q, "Nee [1].") == []  # a verdict question has no typed parts to check


def test_language_is_detected_once_with_the_question():
    assert analyse("Wie zitten er in de stuurgroep?").language == "nl"
    assert analyse("Who sits on the steering group?").language == "en"


@pytest.mark.parametrize(
    "kind,answer,ok",
    [
        (DATE, "Herke Elbers trad aan op 1 maart 2014 [1].", True),
        (DATE, "Per 1/1/08 [2].", True),
        (DATE, "Herke Elbers [1].", False),
        (NUMBER, "Er zijn drie clinics [1].", True),
        (NUMBER, "Het kost € 50.000 [1].", True),
        (NUMBER, "Voor medewerkers [1].", False),
        (NAME, "Jaap Diepeveen en Coen Derickx van BMC [1].", True),
        (NAME, "de burgemeester en de griffier [1].", True),
        (NAME, "Het was een gezamenlijke keuze [1].", False),
        (PLACE, "In Eemnes [1].", True),
    ],
)
def test_answered_checks_the_kind_of_answer(kind, answer, ok):
    assert answered(Part("", kind), answer, "Wie is het en wanneer en waar?") is ok


def test_missing_names_the_left_out_part():
    q = analyse("Who is Amersfoort's new town clerk and when did they take office?")
    assert [p.asks for p in missing(q, "Herke Elbers is the new town clerk [1].")] == [DATE]
    assert missing(q, "Herke Elbers took office on 1 March 2014 [1].") == []


def test_restating_the_question_says_nothing():
    q = "Waarom is er geen projectplan voor Sezen opgesteld?"
    assert not says_something("Er is geen projectplan voor Sezen opgesteld [1].", q)
    assert says_something("Omdat contextgedreven organiseren niet uitgaat van vooraf opgestelde planningen [1].", q)



def test_restates_ignores_citation_markers():
    q = "Waarom is er geen projectplan voor Sezen opgesteld?"
    # Two-digit citation numbers are tokens, so the raw text would count as saying something new.
    assert says_something("Er is geen projectplan voor Sezen opgesteld [12] [13].", q)
    assert restates("Er is geen projectplan voor Sezen opgesteld [12] [13].", q)
    assert not restates("Omdat het traject contextgedreven werkt [1].", q)
