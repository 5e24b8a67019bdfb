"""Hostile and broken files (eval/hostile.py writes the corpus): ingest must account for every one,
never crash, never read outside the folder, never write anything, and stay within bounded memory.

The corpus is ingested in a fresh Python process (`eval/hostile.py measure`), so its peak RSS
growth is measured alone, not mixed with whatever earlier tests left in this process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import ingest
from assistant.readers import limits
from assistant.ingest import load_file, load_folder, printable

ROOT = Path(__file__).resolve().parent.parent
MAX_RSS_GROWTH_MB = 600


def _hostile():
    spec = importlib.util.spec_from_file_location("hostile", ROOT / "eval" / "hostile.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hostile"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _snapshot(top: Path) -> dict:
    """Every entry under top (symlinks not followed): kind, size, mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(top)):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def test_hostile_corpus_is_ingested_or_skipped_with_bounded_memory(tmp_path):
    hostile = _hostile()
    corpus = tmp_path / "corpus"
    entries = hostile.write_corpus(corpus, tmp_path / "outside", big_txt_mb=50)
    assert len(entries) >= 100
    assert (corpus / "big-50mb.txt").stat().st_size >= 50 * 2**20

    work = tmp_path / "work"  # the ingest process's cwd and TMPDIR: must stay empty
    work.mkdir()
    before = _snapshot(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(work), HOME=str(work))
    run = subprocess.run([sys.executable, str(ROOT / "eval" / "hostile.py"), "measure", str(corpus), "--json"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)

    # nothing written anywhere: not in the corpus, not beside it, not in cwd or TMPDIR
    assert _snapshot(tmp_path) == before
    assert list(work.iterdir()) == []

    docs = {d["source"]: d for d in result["docs"]}
    problems: dict[str, list[str]] = {}
    for p in result["problems"]:
        problems.setdefault(p["source"], []).append(p["reason"])
    expected = {f"hostile/{printable(e.rel)}": e for e in entries}
    assert len(expected) == len(entries)

    # a mail's attachments are documents or Problems of their own, "<mail>#<name>": the mail is ingested
    parts = {s for s in set(docs) | set(problems) if s not in expected and "#" in s}
    for s in parts:
        mail = s.split("#", 1)[0]
        assert mail in docs and mail.endswith((".eml", ".msg")), s
        if s in problems:
            assert s.split("#", 1)[1].split("#")[-1] in problems[s][0], (s, problems[s])  # names the attachment
    assert sum(1 for s in parts if s in docs) >= 1 and sum(1 for s in parts if s in problems) >= 2
    docs = {s: d for s, d in docs.items() if s not in parts}
    problems = {s: r for s, r in problems.items() if s not in parts}

    # every entry accounted for, exactly once, and nothing else (no file behind a symlink or in a hidden folder)
    assert set(docs) | set(problems) == set(expected), (set(docs) | set(problems)) ^ set(expected)
    assert not set(docs) & set(problems)
    assert all(len(r) == 1 for r in problems.values())
    for source, e in expected.items():
        if e.expect == "ingest":
            assert source in docs, f"{e.rel!r} should be ingested: {problems.get(source)}"
        elif e.expect == "skip":
            assert source in problems, f"{e.rel!r} should be skipped"
            assert e.reason.lower() in problems[source][0].lower(), (e.rel, e.reason, problems[source][0])
    for source, (reason,) in problems.items():
        assert reason.strip()
        assert printable(expected[source].parts[-1]) in reason, (source, reason)  # names the file

    for d in docs.values():
        assert d["chars"] > 0 and d["chars"] <= limits.MAX_CHARS
        assert not d["script_marker"], d["source"]  # no <script>/<style>/iframe/... content
        assert not d["outside_marker"], d["source"]  # nothing read through a symlink
        assert not d["control_chars"], d["source"]
    html_docs = [s for s in docs if s.endswith((".html", ".htm"))]
    assert len(html_docs) >= 20

    assert result["peak_growth_mb"] < MAX_RSS_GROWTH_MB, result["peak_growth_mb"]
    assert result["seconds"] < 60
    print(f"\nhostile corpus: {len(entries)} entries, {len(docs)} ingested, {len(problems)} skipped, "
          f"peak RSS growth {result['peak_growth_mb']} MB (RSS {result['rss_before_mb']} -> {result['peak_rss_mb']} MB), "
          f"{result['seconds']} s")


# -- smaller checks of the same rules --------------------------------------------------------------
def test_html_drops_scripts_styles_and_attributes():
    text = ingest.html_to_text(
        "<p>Een</p><script>evil()</script><SCRIPT>evil()</SCRIPT ><style>p{}</style>"
        "<img src=x onerror='evil()'><a href='javascript:evil()' title=\"a>b\">Twee</a>"
        "<iframe srcdoc='<p>evil</p>'>evil</iframe><noscript>evil</noscript><template>evil</template>"
        "<svg><text>evil</text></svg><!-- evil --><p>Drie &amp; vier &lt;script&gt;</p>")
    assert "evil" not in text
    assert "Een" in text and "Twee" in text and "Drie & vier <script>" in text


def test_html_scanner_is_linear_on_inputs_that_make_html_parser_quadratic():
    import time

    t = time.perf_counter()
    for bad in ("</" * 300_000, "<a " * 300_000, "<!" * 300_000, "<p " + " a=1" * 200_000 + ">x"):
        ingest.html_to_text(bad)
    assert time.perf_counter() - t < 5


def test_symlinks_are_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("geheim buiten de map")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Een gewoon document.")
    (folder / "link.txt").symlink_to(outside)
    (folder / "dirlink").symlink_to(tmp_path)
    docs, problems = load_folder(folder, scope="s")
    assert [d.source for d in docs] == ["s/a.txt"]
    reasons = {p.source: p.reason for p in problems}
    assert set(reasons) == {"s/link.txt", "s/dirlink"}
    assert "symbolic link to outside the folder: not followed" in reasons["s/link.txt"]
    with pytest.raises(Exception, match="symbolic link"):
        load_file(folder / "link.txt", follow_symlinks=False)


def test_bad_meta_json_is_a_problem_not_an_exception(tmp_path):
    (tmp_path / "a.txt").write_text("Een gewoon document.")
    (tmp_path / "meta.json").write_text("{not json")
    docs, problems = load_folder(tmp_path, scope="s")
    assert [d.source for d in docs] == ["s/a.txt"]
    assert len(problems) == 1 and problems[0].source == "s/meta.json" and "invalid JSON" in problems[0].reason
    (tmp_path / "meta.json").write_text(json.dumps({"a.txt": "geen dict", "b": {"title": 3}}))
    docs, problems = load_folder(tmp_path, scope="s")
    assert docs[0].title == "Een gewoon document." and problems == []
    (tmp_path / "meta.json").write_text(json.dumps({"a.txt": {"title": "Titel\x1b[2J\nmet regel"}}))
    docs, _ = load_folder(tmp_path, scope="s")
    assert docs[0].title == "Titel[2J met regel"


def test_limits_are_reported_with_the_file_name(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CHARS", 100)
    (tmp_path / "lang.txt").write_text("woord " * 50)
    with pytest.raises(Exception, match=r"lang.txt: 300 characters of text, over the limit of 100"):
        load_file(tmp_path / "lang.txt")
    monkeypatch.setattr(limits, "MAX_TEXT_FILE_BYTES", 10)
    with pytest.raises(Exception, match=r"lang.txt: file is 0.0 MB, over the 0 MB limit for .txt files"):
        load_file(tmp_path / "lang.txt")


def test_text_decoding(tmp_path):
    (tmp_path / "a.txt").write_bytes("Wet één\n".encode() * 20 + b"\xff")  # UTF-8 with one bad byte
    assert load_file(tmp_path / "a.txt").text.startswith("Wet één")
    (tmp_path / "b.txt").write_bytes("Café".encode("cp1252"))
    assert load_file(tmp_path / "b.txt").text == "Café"
    (tmp_path / "c.txt").write_bytes("Tekst in UTF-16".encode("utf-16"))
    assert load_file(tmp_path / "c.txt").text == "Tekst in UTF-16"
    (tmp_path / "d.txt").write_bytes("\x1b[31mrood\u009b tekst".encode())
    assert load_file(tmp_path / "d.txt").text == "[31mrood tekst"
