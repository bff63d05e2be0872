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


@pytest.fixture(scope="session")
def lrem_cli() -> Path:
    """The `lrem` command built next to the extension ($LREM_BINARY_DIR/bin/lrem)."""
    import lrem

    candidates = []
    if os.environ.get("LREM_BINARY_DIR"):
        candidates.append(Path(os.environ["LREM_BINARY_DIR"]) / "bin" / "lrem")
    # The extension lives in <build>/python/lrem/, the CLI in <build>/bin/.
    candidates.append(Path(lrem.__file__).resolve().parents[2] / "bin" / "lrem")
    for c in candidates:
        if c.is_file():
            return c
    pytest.skip(f"*** SKIPPED: the lrem CLI was not found (looked at {candidates}); set LREM_BINARY_DIR ***")


@pytest.fixture(scope="session")
def lrem_model_dir(stories_dir: Path, tmp_path_factory) -> Path:
    """The pretrained fixture with the LREM special tokens added, saved as a model directory.

    Its chains of thought are not trained, but every code path (reasoning, caches, index,
    search) runs for real on a real checkpoint.
    """
    import lrem

    model = lrem.Model.load(str(stories_dir)).with_lrem_tokens()
    out = tmp_path_factory.mktemp("lrem_model")
    model.save(str(out))
    return out


@pytest.fixture(scope="session")
def qwen2_tokenizer_json(fixtures_dir: Path) -> Path:
    """The real Qwen2 tokenizer.json fixture (qwen2-bpe)."""
    path = fixtures_dir / "qwen2-bpe" / "tokenizer.json"
    if not path.is_file():
        pytest.skip(f"*** SKIPPED: fixture qwen2-bpe not found at {path}; set LREM_FIXTURES_DIR ***")
    return path


@pytest.fixture(scope="session")
def lrem_token_models(qwen2_tokenizer_json: Path, tmp_path_factory):
    """Tiny Qwen2 and Qwen3 checkpoints over the fixture tokenizer, given the LREM tokens and
    saved by lrem (what tests/data/tokenizers/make_saved_reference.js gave to Hugging Face):
    {"qwen2" | "qwen3": (base_dir, saved_dir)}."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import checkpoints

    return checkpoints.save_lrem_token_models(qwen2_tokenizer_json.parents[1], tmp_path_factory.mktemp("lrem_tokens"))
