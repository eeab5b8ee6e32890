"""The package's shape: stages that import only downward, modules and functions a reader can
hold in their head (README, "Architecture")."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "etl"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
REASON = "# Long:"
"""A function may run longer when a comment just above it (or its decorators) says why."""


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def long_functions(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """Functions over the limit in ``path`` whose ``def`` has no reason written above it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        # The reason sits just above the ``def`` or above its first decorator.
        starts = {node.lineno, *(d.lineno for d in node.decorator_list[:1])}
        explained = any(lines[n - 2].strip().startswith(REASON) for n in starts if n >= 2)
        if length > MAX_FUNCTION_LINES and not explained:
            found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length})")
    return found


class TestSize:
    def test_no_module_is_over_the_limit(self):
        """Every module of ``etl`` has at most 400 lines: split by responsibility past that."""
        over = {
            str(path.relative_to(PACKAGE.parent)): n
            for path in modules()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
        }
        assert over == {}

    def test_no_function_is_over_the_limit_without_a_reason(self):
        """A function over 60 lines carries a ``# Long:`` comment above it that says why."""
        assert [entry for path in modules() for entry in long_functions(path)] == []

    def test_the_check_sees_a_long_function(self, tmp_path):
        """The length check counts from ``def`` to the last line and honours the reason."""
        body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
        unexplained = tmp_path / "etl" / "bad.py"
        unexplained.parent.mkdir()
        unexplained.write_text(f"def f():\n{body}\n")
        explained = tmp_path / "etl" / "good.py"
        reason = f"{REASON} a table of cases reads best in one place"
        explained.write_text(f"{reason}\ndef f():\n{body}\n")
        assert long_functions(unexplained, tmp_path) == ["etl/bad.py:1 f (61)"]
        assert long_functions(explained, tmp_path) == []


def test_imports_run_only_downward():
    """The import-linter contracts in pyproject.toml hold: no import runs up a layer, none
    between packages of one layer, and no cycle inside a package."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.fail("lint-imports is missing: pip install -e '.[dev]'")
    done = subprocess.run(
        [command, "--no-cache"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_every_public_name_imports_from_the_package_root():
    """``from etl import X`` works for every name the package declares public, whichever
    folder X lives in."""
    import etl

    assert sorted(etl.__all__) == sorted(["__version__", *etl._LAZY])
    for name in etl.__all__:
        assert getattr(etl, name) is not None, name
    assert {"sync_file", "sync_bytes", "sync_url", "open_database", "net_changes"} <= set(
        etl.__all__
    )


@pytest.mark.parametrize("folder", ["cli", "service", "reports", "store", "read", "db", "ingest"])
def test_each_folder_says_what_it_may_import(folder):
    """Each stage's ``__init__.py`` states its purpose and what it may import."""
    import importlib

    doc = importlib.import_module(f"etl.{folder}").__doc__ or ""
    assert "May import" in doc, folder
