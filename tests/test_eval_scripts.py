"""The eval scripts stand on the package alone: nothing under eval/ imports from tests/.

What a script's fast mode needs (the hashing embedder, the echo generator) is part of the package;
a script that reached into tests/ would break in a copy without the tests and would tie the test
fakes to the benchmarks. Checked on the source (ast), so no script has to be run.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_MODULES = {p.stem for p in (ROOT / "tests").glob("*.py")} | {"tests"}


def _reaches_into_tests(path: Path) -> list[str]:
    """Each import of a module of tests/, and each "tests" path piece (a sys.path entry), by line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and node.value in ("tests", "tests/"):
            found.append((node.lineno, f"the path piece {node.value!r}"))
            continue
        else:
            continue
        found += [(node.lineno, f"import of {n!r}") for n in names if n.split(".")[0] in TEST_MODULES]
    return [f"line {no}: {what}" for no, what in sorted(found)]


def test_no_eval_script_imports_from_tests():
    scripts = sorted((ROOT / "eval").glob("*.py"))
    assert len(scripts) >= 5
    bad = {p.name: found for p in scripts if (found := _reaches_into_tests(p))}
    assert not bad, f"eval scripts reaching into tests/ (import from the package instead): {bad}"


def test_the_check_finds_an_import_from_tests(tmp_path):
    script = tmp_path / "script.py"
    script.write_text('import sys\nsys.path.insert(0, str(ROOT / "tests"))\nfrom fakes import HashEmbedder\n'
                      "import conftest\nfrom assistant.embed.hashing import HashEmbedder\n")
    assert _reaches_into_tests(script) == [
        "line 2: the path piece 'tests'", "line 3: import of 'fakes'", "line 4: import of 'conftest'"]
