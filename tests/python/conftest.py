"""Shared pytest fixtures: where the test fixtures (the real tiny pretrained Llama) live."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """$LREM_FIXTURES_DIR, else ../shared/fixtures next to the repository (as CMake's default)."""
    return Path(os.environ.get("LREM_FIXTURES_DIR") or REPO_ROOT.parent / "shared" / "fixtures")


@pytest.fixture(scope="session")
def stories_dir(fixtures_dir: Path) -> Path:
    """The stories260K model directory (config.json, model.safetensors, tokenizer.model)."""
    path = fixtures_dir / "stories260K"
    if not (path / "tokenizer.model").is_file():
        pytest.skip(f"*** SKIPPED: fixture stories260K not found at {path}; set LREM_FIXTURES_DIR "
                    f"to the directory holding it ***")
    return path
