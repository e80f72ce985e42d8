"""The docs that ship with the code are complete: no pointers outside the repository, no broken links or citations.

Design notes and protocol references used to live next to the repository (``../shared``), where a clone does not
have them; they are now ``docs/design.md`` and ``docs/reference/``. These tests keep it that way:

- no tracked file points at the old location;
- every relative link in the README and in ``docs/`` reaches an existing file, and its ``#anchor`` a heading there;
- every citation of a doc page in code (``docs/reference/dataverse.md, "Paging"``) names an existing page, and the
  quoted section a heading in it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
OUTSIDE = re.compile(r"\.\./shared|shared/reference|shared/DESIGN|DESIGN\.md")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
DOC_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*reference/[\w.-]+\.md|docs/[\w/.-]+\.md)")
CITATION = re.compile(r"(docs/[\w/.-]+\.md)[,:]?\s+(?:section\s+)?[\"“]([^\"”\n]+)[\"”]")


def tracked(*paths: str) -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary files cite nothing


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower-cased, punctuation dropped, spaces → hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def headings(path: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in prose_lines(path.read_text(encoding="utf-8")) if line.startswith("#")]


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub gives the file's headings, duplicates numbered ``-1``, ``-2`` as it does."""
    seen: Counter[str] = Counter()
    result = set()
    for heading in headings(path):
        base = slug(heading)
        result.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return result


def test_nothing_points_outside_the_repository() -> None:
    offenders = []
    for path in tracked("src", "docs", "README.md", "examples", "bench", "scripts", "pyproject.toml"):
        text = text_of(path)
        for number, line in enumerate((text or "").splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "pointers to files a clone does not have:\n" + "\n".join(offenders)


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_reach_a_file_and_a_heading(page: Path) -> None:
    broken = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # https:, mailto: …
            file_part, _, anchor = target.partition("#")
            destination = (page.parent / file_part).resolve() if file_part else page
            if not destination.exists():
                broken.append(f"{target}: no such file")
            elif anchor and destination.is_file() and destination.suffix == ".md":
                if anchor not in anchors(destination):
                    broken.append(f"{target}: no heading with the anchor #{anchor} in {destination.name}")
            elif destination.is_dir() and not (destination / "README.md").exists():
                broken.append(f"{target}: a directory without a README.md")
    assert not broken, f"broken links in {page.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_code_cites_existing_doc_pages_and_sections() -> None:
    problems = []
    for path in tracked("src", "tests", "bench", "scripts", "examples"):
        text = text_of(path)
        if not text:
            continue
        where = path.relative_to(ROOT)
        for cited in DOC_PATH.findall(text):
            if not cited.startswith("docs/") or not (ROOT / cited).is_file():
                problems.append(f"{where}: cites {cited}, which is not a page under docs/")
        for page, section in CITATION.findall(" ".join(text.split())):
            if (ROOT / page).is_file() and slug(section) not in {slug(h) for h in headings(ROOT / page)}:
                problems.append(f'{where}: cites {page}, "{section}", which has no such heading')
    assert not problems, "\n".join(problems)


def test_the_slugs_match_githubs() -> None:
    assert slug("Batch requests ($batch)") == "batch-requests-batch"
    assert slug("Known differences from Dataverse (the Web API)") == "known-differences-from-dataverse-the-web-api"
    assert slug("`d365local` additions and client-side choices") == "d365local-additions-and-client-side-choices"
    assert slug("Authentication: the 401") == "authentication-the-401"
