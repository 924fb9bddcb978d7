"""ruff and mypy (strict on app/) stay clean: a lint or type error fails the suite."""

import subprocess
import sys

from app.settings import ROOT_DIR


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT_DIR, capture_output=True, text=True, timeout=300)


def test_ruff_is_clean():
    result = _run(sys.executable, "-m", "ruff", "check", "app", "workers", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = _run(sys.executable, "-m", "ruff", "format", "--check", "app", "workers", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_app_is_clean():
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
