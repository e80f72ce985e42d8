"""The pytest plugin as users get it: registered by installing d365local, used from a project of its own."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.e2e.conftest import clean_environment

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "pytest"


def test_the_plugin_is_registered_by_an_entry_point() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "d365local"]
    assert plugin.value == "d365local.testing"


def test_the_example_project_passes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t"), "."],
        cwd=EXAMPLE,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b6 passed\b", result.stdout), result.stdout


def test_the_readme_shows_the_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (EXAMPLE / "test_integration.py").read_text(encoding="utf-8") in readme
