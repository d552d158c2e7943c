"""docs/API.md is the contract as built: it names every route, setting and command the code
has, the README links to it, and nothing in the repository points outside it or to a style
guide it does not hold. docs/ARCHITECTURE.md names only files that exist."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import typer

from app.main import create_app
from run import cli
from settings import BASE_DIR, Settings
from tests.conftest import TEST_SECRET_KEY

API_MD = BASE_DIR / "docs" / "API.md"
ARCHITECTURE_MD = BASE_DIR / "docs" / "ARCHITECTURE.md"
# Where the contract used to live, outside the repository.
OUTSIDE_POINTERS = re.compile(r"\.\./shared|/work/shared")
# A style guide the repository does not hold.
STYLE_GUIDE = re.compile(r"STYLE\.md")
# Files that still cite it and belong to work in progress on other branches (comments in
# app/study and the pylint configuration); each is checked to still cite it, so an entry
# fixed there must leave this list.
STYLE_GUIDE_CITED_ELSEWHERE = frozenset[str]()
# A backticked path in docs/ARCHITECTURE.md: a .py file, or anything under these folders.
PATH_ROOTS = ("app/", "backend/", "tests/", "deploy/", "supervisor/", "migrations/", "docs/")
BACKTICKED = re.compile(r"`([^`\s]+)`")


def _doc() -> str:
    return API_MD.read_text(encoding="utf-8")


def _normalized(text: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", text)


def test_every_route_is_documented() -> None:
    app = create_app(Settings(APP_ENV="test", SECRET_KEY=TEST_SECRET_KEY))
    doc = _normalized(_doc())
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    # Served but not in the schema.
    routes += [("GET", p) for p in ("/openapi.json", "/docs", "/redoc", "/metrics")]
    assert len(routes) > 25
    missing = []
    for method, path in routes:
        candidates = {path, path.removeprefix("/api/v1")}
        pattern = "|".join(re.escape(_normalized(c)) for c in candidates)
        if not re.search(rf"`{method} (?:{pattern})(?![\w/{{}}-])", doc):
            missing.append(f"{method} {path}")
    assert not missing, f"routes missing from docs/API.md: {missing}"


def test_every_setting_is_documented() -> None:
    doc = _doc()
    missing = [
        name for name in Settings.model_json_schema()["properties"] if f"`{name}`" not in doc
    ]
    assert not missing, f"settings missing from docs/API.md: {missing}"


def _commands(group: Any, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


def test_every_command_is_documented() -> None:
    commands = list(_commands(typer.main.get_command(cli)))
    assert "db upgrade" in commands
    assert "users create-superuser" in commands
    doc = _doc()
    missing = [c for c in commands if not re.search(rf"`{re.escape(c)}(?=[ `])", doc)]
    assert not missing, f"commands missing from docs/API.md: {missing}"


def test_readme_links_the_contract() -> None:
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    assert "(docs/API.md)" in readme


def _repository_texts() -> Iterator[tuple[str, str]]:
    """(path, text) of every tracked or new file that is text."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=BASE_DIR,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        path = BASE_DIR / name.decode()
        if not path.is_file() or path.suffix in {".png", ".db"}:
            continue
        yield name.decode(), path.read_text(encoding="utf-8", errors="replace")


def test_nothing_in_the_repository_points_outside_it() -> None:
    offenders = [
        name
        for name, text in _repository_texts()
        if OUTSIDE_POINTERS.search(text) and not name.endswith("test_docs.py")
    ]
    assert not offenders, f"files that point outside the repository: {offenders}"


def test_nothing_cites_a_style_guide_the_repository_lacks() -> None:
    assert not (BASE_DIR / "STYLE.md").exists()
    citing = {
        name
        for name, text in _repository_texts()
        if STYLE_GUIDE.search(text) and not name.endswith("test_docs.py")
    }
    assert citing <= STYLE_GUIDE_CITED_ELSEWHERE, (
        f"files that cite STYLE.md: {sorted(citing - STYLE_GUIDE_CITED_ELSEWHERE)}"
    )
    fixed = STYLE_GUIDE_CITED_ELSEWHERE - citing
    assert not fixed, f"no longer cite STYLE.md, drop them from the list: {sorted(fixed)}"


def _architecture_paths() -> list[str]:
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    return [
        found
        for found in BACKTICKED.findall(text)
        if re.fullmatch(r"[\w./-]+", found)
        and (found.endswith(".py") or found.startswith(PATH_ROOTS))
    ]


def test_the_architecture_names_only_files_that_exist() -> None:
    paths = _architecture_paths()
    assert len(set(paths)) > 40
    missing = sorted({p for p in paths if not (BASE_DIR / p.rstrip("/")).exists()})
    assert not missing, f"paths in docs/ARCHITECTURE.md that do not exist: {missing}"


def test_the_readme_links_the_architecture_and_the_history() -> None:
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    for target in ("docs/ARCHITECTURE.md", "docs/performance.md", "docs/guarantees.md"):
        assert f"({target})" in readme
        assert (BASE_DIR / target).is_file()


def test_the_readme_keeps_to_setup_operation_and_the_current_figures() -> None:
    """History goes to docs/performance.md, the map to docs/ARCHITECTURE.md."""
    lines = (BASE_DIR / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 450
