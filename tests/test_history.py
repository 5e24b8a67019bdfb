"""The conversation store (assistant/history.py): owners kept apart, rename/delete, a delete that
leaves no text on disk, threads, and SIGKILLs in the middle of writes."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant import index
from assistant.conversation import SavedTurn, SourceRef
from assistant.history import FILE_NAME, History, NoSuchConversation, path_for

ROOT = Path(__file__).resolve().parent.parent


def _turn(i: int, secret: str = "") -> SavedTurn:
    src = SourceRef(n=1, source="brief.pdf", title="Brief", start=10, end=40, text=f"Uittreksel {i} {secret}",
                    cited=f"Uittreksel {i}", page=2, label="Lochem · brief · 2012")
    return SavedTurn(question=f"Vraag {i} {secret}", answer=f"Antwoord {i} [1] {secret}", sources=(src,),
                     quote=f"Uittreksel {i}", quote_n=1, models={"llm": "x"}, generation="gen-1",
                     asked_at=1_700_000_000.0 + i)


def test_create_append_list_get_rename(tmp_path):
    with History(tmp_path / FILE_NAME) as h:
        a = h.create("", "Eerste")
        h.append("", a, _turn(1))
        h.append("", a, _turn(2))
        b = h.save("", None, _turn(3))
        rows = h.list("")
        assert [r.id for r in rows] == [b, a]  # newest first
        assert {r.id: r.turns for r in rows} == {a: 2, b: 1}
        assert rows[0].title == "Vraag 3"
        conv = h.get("", a)
        assert conv.title == "Eerste" and conv.owner == ""
        assert conv.turns == (_turn(1), _turn(2))  # every field round-trips, sources included
        h.rename("", a, "  Nieuwe   naam ")
        assert h.get("", a).title == "Nieuwe naam"
        with pytest.raises(Exception, match="empty"):
            h.rename("", a, "   ")
    with History(tmp_path / FILE_NAME) as h:  # reopened: all there
        assert [r.id for r in h.list("")] == [b, a]


def test_owners_never_see_each_others_conversations(tmp_path):
    h = History(tmp_path / FILE_NAME)
    ana = h.save("ana", None, _turn(1, "ana-geheim"))
    bob = h.save("bob", None, _turn(2))
    assert [r.id for r in h.list("ana")] == [ana]
    assert [r.id for r in h.list("bob")] == [bob]
    assert h.list("") == []
    for call in (lambda: h.get("bob", ana), lambda: h.append("bob", ana, _turn(3)),
                 lambda: h.rename("bob", ana, "van bob"), lambda: h.delete("bob", ana), lambda: h.get("", ana)):
        with pytest.raises(NoSuchConversation, match="assistant history list"):
            call()
    # Same error as an id that never existed: nothing tells bob the id is taken.
    with pytest.raises(NoSuchConversation) as e1:
        h.get("bob", ana)
    with pytest.raises(NoSuchConversation) as e2:
        h.get("bob", "0000000000000000")
    assert str(e1.value).replace(ana, "X") == str(e2.value).replace("0000000000000000", "X")
    assert h.get("ana", ana).turns == (_turn(1, "ana-geheim"),) and h.get("ana", ana).title == "Vraag 1 ana-geheim"
    assert not h.owns("bob", ana) and h.owns("ana", ana)


def test_delete_leaves_no_text_in_the_files(tmp_path):
    path = tmp_path / FILE_NAME
    h = History(path)
    keep = h.save("", None, _turn(1, "blijft-staan"))
    gone = h.save("", None, _turn(2, "geheim-woord-xyzzy"))
    h.append("", gone, _turn(3, "geheim-woord-xyzzy" * 300))  # a turn big enough for overflow pages
    h.delete("", gone)
    assert [r.id for r in h.list("")] == [keep]
    with pytest.raises(NoSuchConversation):
        h.get("", gone)
    files = [p for p in tmp_path.iterdir() if p.name.startswith(FILE_NAME)]
    assert path in files
    for p in files:  # the database, its -wal and -shm
        data = p.read_bytes()
        assert b"geheim-woord-xyzzy" not in data, p.name
    assert b"blijft-staan" in path.read_bytes() + (tmp_path / (FILE_NAME + "-wal")).read_bytes()
    h.close()
    assert History(path).get("", keep).turns == (_turn(1, "blijft-staan"),)


def test_threads_append_at_once(tmp_path):
    h = History(tmp_path / FILE_NAME)
    ids = [h.create("", f"t{i}") for i in range(4)]
    errors = []

    def work(cid):
        try:
            for i in range(20):
                h.append("", cid, _turn(i))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(h.get("", c).turns) == 20 for c in ids)
    assert [t.question for t in h.get("", ids[0]).turns] == [_turn(i).question for i in range(20)]


def test_an_ingest_keeps_the_history(tmp_path):
    """The index writer's cleanups remove old generations and leftovers, never the history beside them."""
    from fakes import HashEmbedder

    from assistant.ingest import load_folder

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Een document over de gemeente Lochem en haar regie.", encoding="utf-8")
    idx = tmp_path / "index"
    loaded, _ = load_folder(docs)
    index.sync(idx, loaded, HashEmbedder(), 200, 40, scope="docs")
    h = History(path_for(idx))
    cid = h.save("", None, _turn(1))
    (docs / "b.txt").write_text("Nog een document, over Altena.", encoding="utf-8")
    loaded, _ = load_folder(docs)
    index.sync(idx, loaded, HashEmbedder(), 200, 40, scope="docs")  # a new generation replaces the old
    assert (idx / FILE_NAME).exists() and h.get("", cid).turns == (_turn(1),)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from assistant.history import History
    from assistant.conversation import SavedTurn
    h = History({path!r})
    cid = sys.argv[1]
    i = int(sys.argv[2])
    while True:
        h.append("", cid, SavedTurn(question=f"q{{i}}", answer="a" * (i % 5000), asked_at=float(i)))
        # Only what append() returned from is committed: say so after it.
        print(i, flush=True)
        i += 1
    """
)


def test_kill_while_appending_loses_no_committed_turn(tmp_path):
    """A process appending turns in a loop is SIGKILLed at random moments, 12 times: after each kill
    the file passes integrity_check and every turn it reported committed is there, in order."""
    path = tmp_path / FILE_NAME
    with History(path) as h:
        cid = h.create("", "kill test")
    script = KILL_SCRIPT.format(root=str(ROOT), path=str(path))
    rng = random.Random(25)
    committed = -1
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", script, cid, str(committed + 1)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stdout.readline()  # it is writing: at least one turn is committed
        assert first, proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        reported = [int(x) for x in (first + out).split()]
        committed = max(committed, reported[-1])
        db = sqlite3.connect(str(path))
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        with History(path) as h:
            turns = h.get("", cid).turns
        # Every reported turn is there; at most one more (committed, killed before it printed).
        assert len(turns) in (committed + 1, committed + 2), (len(turns), committed)
        assert [t.question for t in turns] == [f"q{i}" for i in range(len(turns))]
        assert all(t.answer == "a" * (i % 5000) for i, t in enumerate(turns))
        committed = len(turns) - 1


def test_a_new_conversation_and_its_first_turn_are_one_transaction(tmp_path, monkeypatch):
    """A failure between the two inserts (a kill, a full disk) leaves no empty conversation behind."""
    with History(tmp_path / FILE_NAME) as h:
        def fail(*args):
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(History, "_insert_turn", classmethod(lambda cls, *a: fail()))
        with pytest.raises(sqlite3.OperationalError):
            h.save("", None, SavedTurn(question="Waarom?", answer="Daarom."))
        monkeypatch.undo()
        assert h.list("") == []
        conv_id = h.save("", None, SavedTurn(question="Waarom?", answer="Daarom."))
        assert [(c.id, c.turns) for c in h.list("")] == [(conv_id, 1)]


def test_the_browser_secret_outlives_a_restart_and_is_private(tmp_path):
    from assistant.ui.conversations import SECRET_FILE, browser_secret

    first = browser_secret(tmp_path / "index")
    assert len(first) == 64 and browser_secret(tmp_path / "index") == first  # the same after a restart
    if os.name == "posix":
        assert (tmp_path / "index" / SECRET_FILE).stat().st_mode & 0o077 == 0
    assert browser_secret(tmp_path / "other") != first  # one per index
