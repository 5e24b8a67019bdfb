"""`assistant import ori|diwoo|woogle` on recorded sample responses (tests/data/importers/): the
documents and meta.json that `assistant ingest` reads, all-or-nothing writes, clear errors."""

import json
import re
import shutil
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import InputError
from assistant.importers import diwoo, ori, woogle
from assistant.importers.base import DirFetcher, FetchError, import_records, safe_name
from assistant.ingest import load_folder

DATA = Path(__file__).resolve().parent / "data" / "importers"
ORI_SEARCH = "https://api.openraadsinformatie.nl/v1/elastic/ori_lochem_*/_search"
OOO = "https://open.overheid.nl"
NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{10}\.(?:pdf|txt|html|docx)$")


class FakeWeb:
    """Serves recorded responses by URL (a callable gets the POST body); an unknown URL is a 404.
    fail_at=n: the n-th request fails as a dropped connection would."""

    def __init__(self, routes: dict, fail_at: int | None = None):
        self.routes, self.fail_at, self.calls = routes, fail_at, []

    def get(self, url, data=None):
        self.calls.append((url, data))
        if self.fail_at and len(self.calls) == self.fail_at:
            raise FetchError(url, "download failed (ConnectionResetError: connection reset by peer)")
        if url not in self.routes:
            raise FetchError(url, "HTTP 404 Not Found")
        r = self.routes[url]
        return r(data) if callable(r) else r


def ori_hits():
    return [h for p in ("search_page1.json", "search_page2.json")
            for h in json.loads((DATA / "ori" / p).read_text(encoding="utf-8"))["hits"]["hits"]]


def es_search(data):
    """Elasticsearch's from/size paging over the recorded hits."""
    body = json.loads(data)
    hits = ori_hits()
    page = hits[body["from"]:body["from"] + body["size"]]
    return json.dumps({"hits": {"total": {"value": len(hits)}, "hits": page}}).encode()


def ori_web(**kw):
    return FakeWeb({ORI_SEARCH: es_search,
                    "https://api.openraadsinformatie.nl/v1/resolve/lochem/4711": (DATA / "ori" / "raadsvoorstel-fietsbrug.pdf").read_bytes()},
                   **kw)


def diwoo_web(**kw):
    d = DATA / "diwoo"
    routes = {f"{OOO}/sitemap.xml": (d / "sitemapindex.xml").read_bytes(),
              f"{OOO}/sitemaps/sitemap-1.xml": (d / "sitemap-1.xml").read_bytes(),
              f"{OOO}/sitemaps/sitemap-2.xml": (d / "sitemap-2.xml").read_bytes(),
              f"{OOO}/documenten/oep-a1b2c3/pdf": (d / "woo-besluit-parkeren.pdf").read_bytes(),
              f"{OOO}/documenten/oep-d4e5f6/kamerbrief.txt": (d / "kamerbrief.txt").read_bytes()}
    for ident in ("oep-a1b2c3", "oep-d4e5f6", "oep-g7h8i9"):
        routes[f"{OOO}/documenten/{ident}/metadata.xml"] = (d / f"{ident}.xml").read_bytes()
    return FakeWeb(routes, **kw)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def no_leftovers(parent: Path):
    assert [p.name for p in parent.iterdir() if ".import-" in p.name] == []


def by_title(docs):
    return {d.title: d for d in docs}


# -- ORI ---------------------------------------------------------------------------------------
def test_ori_import_gives_documents_and_metadata_that_ingest_reads(tmp_path):
    out = tmp_path / "lochem"
    web = ori_web()
    logs = []
    result = import_records(ori.search(web, "lochem", "2024-01-01", page_size=2), out, web, log=logs.append)
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 4 and "meta.json" in names and all(NAME.match(n) for n in names if n != "meta.json")
    assert sorted(Path(n).suffix for n in names) == [".json", ".pdf", ".txt", ".txt"]
    assert len(result.new) == 3 and len(result.skipped) == 1 and "4714" in result.skipped[0]
    assert any("no text and no PDF url" in m for m in logs)
    # the query: POSTed JSON for MediaObjects since the date, paged by from/size
    body = json.loads(web.calls[0][1])
    assert web.calls[0][0] == ORI_SEARCH and body["from"] == 0 and "2024-01-01" in json.dumps(body["query"])
    assert [json.loads(d)["from"] for u, d in web.calls if u == ORI_SEARCH] == [0, 2, 4]

    docs, problems = load_folder(out)
    assert problems == []
    docs = by_title(docs)
    brug = docs["Raadsvoorstel fietsbrug over de Berkel"]
    assert brug.source.endswith(".pdf") and "fietsbrug over de Berkel" in brug.text and len(brug.pages) == 2
    assert brug.meta.municipalities == ("Lochem",) and brug.meta.date == "2024-03-12"
    assert brug.meta.type == "raadsinformatie"
    rib = docs["Raadsinformatiebrief jeugdzorg 2024"]  # its PDF is a 404: ORI's text instead
    assert rib.source.endswith(".txt") and "wachtlijsten" in rib.text
    assert rib.meta.type == "raadsinformatiebrief" and rib.meta.date == "2024-04-02"
    motie = next(d for t, d in docs.items() if t.startswith("Motie"))
    assert "\u202e" not in motie.title and "bomen te sparen" in motie.text and motie.meta.date == "2024-05-14"
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    entry = next(v for v in meta.values() if v["id"] == "4711")
    assert entry["source_url"].startswith("https://lochem.raadsinformatie.nl/") and entry["source"] == "ori"
    no_leftovers(tmp_path)


def test_ori_import_again_changes_nothing(tmp_path):
    out = tmp_path / "lochem"
    import_records(ori.search(ori_web(), "Lochem", None), out, ori_web(), log=lambda m: None)
    before = snapshot(out)
    stamp = (out / "meta.json").stat().st_mtime_ns
    result = import_records(ori.search(ori_web(), "Lochem", None), out, ori_web(), log=lambda m: None)
    assert result.new == [] and len(result.unchanged) == 3
    assert snapshot(out) == before and (out / "meta.json").stat().st_mtime_ns == stamp


def test_ori_limit_stops_early(tmp_path):
    web = ori_web()
    result = import_records(ori.search(web, "Lochem", None, page_size=2), tmp_path / "o", web, limit=1,
                            log=lambda m: None)
    assert len(result.new) == 1 and [u for u, _ in web.calls].count(ORI_SEARCH) == 1


@pytest.mark.parametrize("existing", [False, True])
def test_ori_failure_midway_leaves_the_folder_as_it_was(tmp_path, existing):
    out = tmp_path / "lochem"
    if existing:
        out.mkdir()
        (out / "eigen.txt").write_text("Een eigen document.", encoding="utf-8")
        (out / "meta.json").write_text('{"eigen.txt": {"title": "Eigen"}}', encoding="utf-8")
    before = snapshot(out) if existing else None
    web = ori_web(fail_at=4)  # search page 1, two PDFs (one a 404), then the second search page fails
    with pytest.raises(InputError) as e:
        import_records(ori.search(web, "Lochem", None, page_size=2), out, web, log=lambda m: None)
    assert "ORI search failed" in str(e.value) and ORI_SEARCH in str(e.value)
    assert "connection reset" in str(e.value)
    assert (snapshot(out) == before) if existing else not out.exists()
    no_leftovers(tmp_path)


@pytest.mark.parametrize("body, message", [
    (b'{"hits": {"total": {"value": 4}, "hits": [{"_id": "1", "_sou', "not a valid JSON search response"),
    (b"<html><body>502 Bad Gateway</body></html>", "not a valid JSON search response"),
    (b'{"error": {"type": "index_not_found_exception"}, "status": 404}', "index_not_found_exception"),
    (b'{"took": 3}', "no hits.hits list"),
])
def test_ori_unusable_response_stops_with_a_clear_error(tmp_path, body, message):
    web = FakeWeb({ORI_SEARCH: body})
    with pytest.raises(InputError) as e:
        import_records(ori.search(web, "Lochem", None), tmp_path / "o", web, log=lambda m: None)
    assert message in str(e.value) and "ORI search" in str(e.value)
    assert not (tmp_path / "o").exists()
    no_leftovers(tmp_path)


def test_ori_http_error_names_the_index_and_the_fix(tmp_path):
    web = FakeWeb({})
    with pytest.raises(InputError) as e:
        import_records(ori.search(web, "Nergenshuizen", None), tmp_path / "o", web)
    assert "HTTP 404" in str(e.value) and "ori_nergenshuizen_*" in str(e.value) and "--index" in str(e.value)


def test_an_existing_different_file_is_never_overwritten(tmp_path):
    out = tmp_path / "lochem"
    import_records(ori.search(ori_web(), "Lochem", None), out, ori_web(), log=lambda m: None)
    txt = next(p for p in out.glob("*.txt") if "jeugdzorg" in p.name)
    txt.write_text("Door een mens aangepast.", encoding="utf-8")
    logs = []
    result = import_records(ori.search(ori_web(), "Lochem", None), out, ori_web(), log=logs.append)
    assert txt.read_text(encoding="utf-8") == "Door een mens aangepast."
    assert any("exists with different content" in m and "4712" in m for m in logs)
    assert len(result.unchanged) == 2 and result.new == []


def test_every_record_bad_is_an_error(tmp_path):
    hits = [{"_id": "9", "_source": {"@type": "MediaObject", "name": "Leeg"}}, {"nonsense": 1}]
    web = FakeWeb({ORI_SEARCH: json.dumps({"hits": {"hits": hits}}).encode()})
    with pytest.raises(InputError, match=r"all 2 record\(s\) were unusable.*no text and no PDF url"):
        import_records(ori.search(web, "Lochem", None), tmp_path / "o", web, log=lambda m: None)
    assert not (tmp_path / "o").exists()


# -- DiWoo -------------------------------------------------------------------------------------
def test_diwoo_import_maps_tooi_codes_and_categories(tmp_path):
    out = tmp_path / "woo"
    web = diwoo_web()
    logs = []
    result = import_records(diwoo.walk(web, f"{OOO}/sitemap.xml"), out, web, log=logs.append)
    assert len(result.new) == 2 and len(result.skipped) == 2
    assert any("oep-g7h8i9" in m and "no officieleTitel" in m for m in logs)
    assert any("oep-gone00" in m and "HTTP 404" in m for m in logs)
    docs, problems = load_folder(out)
    assert problems == []
    docs = by_title(docs)
    besluit = docs["Besluit op Woo-verzoek parkeervergunningen"]
    assert besluit.source.endswith(".pdf") and "parkeervergunningen" in besluit.text
    assert besluit.meta.municipalities == ("Amsterdam",)  # gm0363, no label: the lookup table
    assert besluit.meta.type == "Woo-besluit" and besluit.meta.date == "2024-05-28"
    brief = docs["Kamerbrief over de voortgang van de Woo"]
    assert brief.meta.organisation == "ministerie van Binnenlandse Zaken en Koninkrijksrelaties"
    assert brief.meta.type == "kamerstuk" and brief.meta.date == "2024-05-30" and brief.source.endswith(".txt")
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    entry = next(v for v in meta.values() if v["id"] == "oep-a1b2c3")
    assert entry["tooi"].endswith("/gemeente/gm0363") and entry["documentsoort"] == "besluit"
    assert entry["source_url"] == f"{OOO}/documenten/oep-a1b2c3/pdf"


def test_diwoo_unknown_gemeente_code_is_kept():
    from xml.etree import ElementTree

    e = ElementTree.fromstring('<p resource="https://identifier.overheid.nl/tooi/id/gemeente/gm9999"/>')
    assert diwoo.organisation(e)["municipality"] == "gm9999"
    e = ElementTree.fromstring('<p resource="https://identifier.overheid.nl/tooi/id/gemeente/gm0001">gemeente Lochem</p>')
    assert diwoo.organisation(e)["municipality"] == "Lochem"


def test_diwoo_failure_midway_leaves_nothing(tmp_path):
    out = tmp_path / "woo"
    web = diwoo_web(fail_at=6)  # index, sitemap-1, 2 metadata, 2 files... the 6th request fails
    web.fail_at = 7  # the 7th: sitemap-2
    with pytest.raises(InputError) as e:
        import_records(diwoo.walk(web, f"{OOO}/sitemap.xml"), out, web, log=lambda m: None)
    assert "sitemap-2.xml" in str(e.value) and "connection reset" in str(e.value)
    assert not out.exists()
    no_leftovers(tmp_path)


@pytest.mark.parametrize("body, message", [
    (b"<?xml version='1.0'?><sitemapindex><sitemap><loc>https://x/", "not valid XML"),
    (b"<html><body>Onderhoud</body></html>", "not a sitemap"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>', "DTD or entity"),
])
def test_diwoo_unusable_sitemap_is_an_error(tmp_path, body, message):
    web = FakeWeb({f"{OOO}/sitemap.xml": body})
    with pytest.raises(InputError) as e:
        import_records(diwoo.walk(web, f"{OOO}/sitemap.xml"), tmp_path / "o", web)
    assert message in str(e.value) and "sitemap.xml" in str(e.value)
    assert not (tmp_path / "o").exists()


def test_diwoo_truncated_pdf_is_skipped(tmp_path):
    web = diwoo_web()
    pdf = web.routes[f"{OOO}/documenten/oep-a1b2c3/pdf"]
    web.routes[f"{OOO}/documenten/oep-a1b2c3/pdf"] = pdf[: len(pdf) // 2]
    logs = []
    result = import_records(diwoo.walk(web, f"{OOO}/sitemap.xml"), tmp_path / "o", web, log=logs.append)
    assert len(result.new) == 1 and any("oep-a1b2c3" in m and "truncated" in m for m in logs)


def test_diwoo_from_files_downloaded_by_hand(tmp_path):
    """A local sitemap with relative <loc>s: the files beside it; --from-dir: a wget -x tree."""
    local = tmp_path / "dl"
    local.mkdir()
    (local / "sitemap.xml").write_text(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>docs/oep-d4e5f6.xml</loc></url></urlset>',
        encoding="utf-8")
    (local / "docs").mkdir()
    shutil.copy(DATA / "diwoo" / "oep-d4e5f6.xml", local / "docs")
    tree = local / "open.overheid.nl" / "documenten" / "oep-d4e5f6"
    tree.mkdir(parents=True)
    shutil.copy(DATA / "diwoo" / "kamerbrief.txt", tree)
    rc = main(["import", "diwoo", str(local / "sitemap.xml"), str(tmp_path / "out"), "--from-dir", str(local)])
    assert rc == 0
    docs, problems = load_folder(tmp_path / "out")
    assert problems == [] and [d.title for d in docs] == ["Kamerbrief over de voortgang van de Woo"]


def test_dir_fetcher_never_leaves_its_folder(tmp_path):
    f = DirFetcher(tmp_path)
    for url in ("../secret.txt", "docs/../../x", "file:///etc/passwd", "C:\\Windows\\win.ini"):
        with pytest.raises(FetchError):
            f.get(url)


# -- Woogle ------------------------------------------------------------------------------------
def test_woogle_csv_joins_pages_per_document(tmp_path):
    out = tmp_path / "woogle"
    logs = []
    result = import_records(woogle.records(DATA / "woogle" / "woo_bodytext.csv"), out, log=logs.append)
    assert len(result.new) == 2 and len(result.skipped) == 2
    assert any("line 5" in m and "no document id" in m for m in logs)
    assert any("nl.gm0307.2b.2023.2.doc.9" in m and "no text" in m for m in logs)
    docs, problems = load_folder(out)
    assert problems == []
    docs = by_title(docs)
    besluit = docs["Besluit Woo-verzoek parkeergarage"]
    assert besluit.text.index("Besluit op uw Woo-verzoek") < besluit.text.index("Tweede pagina")  # page order
    assert '"deels openbaar"' in besluit.text
    assert besluit.meta.municipalities == ("Amersfoort",) and besluit.meta.date == "2023-06-15"
    assert besluit.meta.type == "besluit"
    inv = docs["Inventarislijst toeslagen"]
    assert inv.meta.organisation == "Ministerie van Financiën" and inv.meta.municipalities == ()
    assert "gescand, OCR" in inv.text
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert {v["dossier"] for v in meta.values()} == {"nl.gm0307.2b.2023.1", "nl.mnfin.2b.2022.7"}


def test_woogle_jsonl(tmp_path):
    result = import_records(woogle.records(DATA / "woogle" / "woogle.jsonl"), tmp_path / "w", log=lambda m: None)
    assert len(result.new) == 2
    docs = by_title(load_folder(tmp_path / "w")[0])
    assert docs["Woo-besluit fietsenstalling"].meta.municipalities == ("Utrecht",)
    assert "e-mails" in docs["Woo-besluit fietsenstalling"].text
    assert docs["Inventaris"].meta.date == "2024"


def test_woogle_truncated_csv_skips_the_cut_off_row(tmp_path):
    data = (DATA / "woogle" / "woo_bodytext.csv").read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data[: data.index(b"nl.mnfin") + 40])  # inside the Financi\u00ebn row
    logs = []
    result = import_records(woogle.records(cut), tmp_path / "w", log=logs.append)
    assert len(result.new) == 1 and any("cut.csv line 4" in m and "cut-off line" in m for m in logs)


def test_woogle_file_that_is_not_a_dump(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("naam,leeftijd\nAnna,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="no document id column.*naam, leeftijd"):
        import_records(woogle.records(bad), tmp_path / "w")
    with pytest.raises(InputError, match="no such file"):
        import_records(woogle.records(tmp_path / "missing.csv"), tmp_path / "w")
    assert not (tmp_path / "w").exists()


# -- names -------------------------------------------------------------------------------------
def test_safe_names():
    a = safe_name("../../etc/passwd", "1", ".txt")
    assert NAME.match(a) and "/" not in a and not a.startswith(".")
    assert safe_name("CON", "x", ".pdf").startswith("con-") and NAME.match(safe_name("", "x", ".pdf"))
    assert safe_name("Café \u202egnp.exe", "7", ".pdf").startswith("cafe-gnp-exe-")
    assert safe_name("T", "1", ".txt") == safe_name("T", "1", ".txt") != safe_name("T", "2", ".txt")
    with pytest.raises(ValueError):
        safe_name("t", "1", "/../x")


# -- the command line --------------------------------------------------------------------------
@pytest.fixture
def fake_network(monkeypatch):
    from assistant.cli import importing

    webs = {}

    def use(web):
        webs["web"] = web
        monkeypatch.setattr(importing, "make_fetcher", lambda: web)
        return web

    return use


def test_cli_ori(tmp_path, fake_network, capsys):
    fake_network(ori_web())
    out = tmp_path / "lochem"
    assert main(["import", "ori", "--municipality", "Lochem", "--since", "2024-01-01", str(out)]) == 0
    got = capsys.readouterr()
    assert "imported 3 document(s)" in got.out and "3 new" in got.out and "skipped 1" in got.out
    assert f"assistant ingest {out}" in got.out and "4714" in got.err
    assert len(load_folder(out)[0]) == 3
    assert main(["import", "ori", "--municipality", "Lochem", str(out)]) == 0
    assert "0 new, 3 unchanged" in capsys.readouterr().out


def test_cli_ori_text_only_and_from_dir(tmp_path, fake_network, capsys):
    web = fake_network(ori_web())
    assert main(["import", "ori", "--municipality", "Lochem", "--text-only", str(tmp_path / "a")]) == 0
    assert all(u == ORI_SEARCH for u, _ in web.calls) and not list((tmp_path / "a").glob("*.pdf"))
    saved = tmp_path / "saved"
    saved.mkdir()
    for p in ("search_page1.json", "search_page2.json"):
        shutil.copy(DATA / "ori" / p, saved)
    shutil.copy(DATA / "ori" / "raadsvoorstel-fietsbrug.pdf", saved / "4711")  # saved under its URL's last part
    web.calls.clear()
    assert main(["import", "ori", "--municipality", "Lochem", "--from-dir", str(saved), str(tmp_path / "b")]) == 0
    assert web.calls == [] and len(list((tmp_path / "b").glob("*.pdf"))) == 1


def test_cli_diwoo_and_woogle(tmp_path, fake_network, capsys):
    fake_network(diwoo_web())
    assert main(["import", "diwoo", f"{OOO}/sitemap.xml", str(tmp_path / "woo"), "--limit", "1"]) == 0
    assert "imported 1 document(s)" in capsys.readouterr().out
    assert main(["import", "woogle", str(DATA / "woogle" / "woo_bodytext.csv"), str(tmp_path / "wg")]) == 0
    assert "imported 2 document(s)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["import", "ori", "--municipality", "Lochem", "--since", "12-03-2024", "OUT"], "--since '12-03-2024': not a date"),
    (["import", "ori", "--municipality", "Lochem", "--limit", "0", "OUT"], "--limit 0"),
    (["import", "diwoo", "nergens.xml", "OUT"], "neither an http(s) URL nor a file"),
    (["import", "woogle", "nergens.csv", "OUT"], "no such file"),
])
def test_cli_errors_name_the_bad_value(tmp_path, fake_network, capsys, argv, message):
    fake_network(FakeWeb({}))
    argv = [str(tmp_path / a) if a in ("OUT", "nergens.xml", "nergens.csv") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "OUT").exists()


def test_cli_failure_midway_exit_code_and_folder(tmp_path, fake_network, capsys):
    fake_network(diwoo_web(fail_at=7))
    out = tmp_path / "woo"
    assert main(["import", "diwoo", f"{OOO}/sitemap.xml", str(out)]) == 2
    assert "sitemap-2.xml" in capsys.readouterr().err and not out.exists()
    no_leftovers(tmp_path)


def test_woogle_gzipped_dump_is_streamed_and_scattered_rows_are_reported(tmp_path):
    import gzip

    rows = ("foi_documentId,foi_pageNumber,foi_bodyText,dc_title,dc_publisher_name\n"
            "a,1,Eerste pagina van document a.,Document a,gemeente Lochem\n"
            "b,1,Document b.,Document b,gemeente Lochem\n"
            "a,2,Een verdwaalde pagina van a.,,\n")
    dump = tmp_path / "dump.csv.gz"
    dump.write_bytes(gzip.compress(rows.encode("utf-8")))
    logs = []
    result = import_records(woogle.records(dump), tmp_path / "w", log=logs.append)
    assert len(result.new) == 2 and any("line 4" in m and "sort the dump" in m for m in logs)
    docs = by_title(load_folder(tmp_path / "w")[0])
    assert docs["Document a"].meta.municipalities == ("Lochem",) and "verdwaalde" not in docs["Document a"].text
    bad = tmp_path / "cut.csv.gz"
    bad.write_bytes(gzip.compress(rows.encode("utf-8"))[:-12])
    with pytest.raises(InputError, match="cut.csv.gz: cannot read it"):
        import_records(woogle.records(bad), tmp_path / "w2", log=lambda m: None)
    assert not (tmp_path / "w2").exists()


def test_interrupted_import_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "lochem"
    import_records(ori.search(ori_web(), "Lochem", None), out, ori_web(), log=lambda m: None)
    before = snapshot(out)

    def interrupted(data):
        raise KeyboardInterrupt

    web = ori_web()
    web.routes["https://api.openraadsinformatie.nl/v1/resolve/lochem/4711"] = b"%PDF-1.4 anders\n%%EOF"
    web.routes[ORI_SEARCH] = lambda data: es_search(data) if json.loads(data)["from"] == 0 else interrupted(data)
    with pytest.raises(KeyboardInterrupt):
        import_records(ori.search(web, "Lochem", None, page_size=2), out, web, log=lambda m: None)
    assert snapshot(out) == before
    no_leftovers(tmp_path)


def test_meta_json_over_ingests_limit_is_refused_before_writing(tmp_path, monkeypatch):
    from assistant.importers import base

    monkeypatch.setattr(base, "_meta_limit", lambda: 500)
    with pytest.raises(InputError, match="over the 0 MB that `assistant ingest` reads.*several folders"):
        import_records(woogle.records(DATA / "woogle" / "woo_bodytext.csv"), tmp_path / "w", log=lambda m: None)
    assert not (tmp_path / "w").exists()
    no_leftovers(tmp_path)


def test_a_record_imported_before_under_another_name_is_not_duplicated(tmp_path):
    """Its PDF was a 404 the first time (so its text was written as .txt); now the PDF is there."""
    out = tmp_path / "lochem"
    import_records(ori.search(ori_web(), "Lochem", None), out, ori_web(), log=lambda m: None)
    before = snapshot(out)
    web = ori_web()
    web.routes["https://api.openraadsinformatie.nl/v1/resolve/lochem/4712"] = web.routes[
        "https://api.openraadsinformatie.nl/v1/resolve/lochem/4711"]
    logs = []
    result = import_records(ori.search(web, "Lochem", None), out, web, log=logs.append)
    assert result.new == [] and len(result.unchanged) == 3 and snapshot(out) == before
    assert any("4712 was imported before" in m for m in logs)
