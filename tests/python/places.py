"""Where the tests find their inputs: the repository's committed samples and model folders, and the project's shared
data (large texts and the training corpus), which may be absent. A test that needs the shared data asks for it with
`shared(...)` and is skipped, with the reason, when it is not there (`scripts/test.sh` lists the skipped tests and
fails in CI, where the shared data is always present)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
MODELS = ROOT / "models"
GOLF = ROOT / "target" / "release" / "golf"
DATA = Path(os.environ.get("GOLF_DATA", ROOT.parent / "shared" / "data"))

# The first 9 FineWeb documents, committed (the same bytes as the shared data's fineweb/val-first-docs.txt).
VAL_DOCS = SAMPLES / "fineweb-val-first-docs.txt"
# The AR and MDLM golfers' tokenizer, committed in their model folders.
SP_MODEL = MODELS / "ar" / "fineweb_1024_bpe.model"
# The official Parameter Golf sp1024 tokenizer (byte fallback on), which `golf import` uses by default.
OFFICIAL_SP = ROOT / "crates" / "golf-import" / "tokenizer" / "fineweb_1024_bpe.model"


def shared(relative: str) -> Path:
    """A file or folder of the shared data, or a skip of the calling test when the shared data lacks it."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"needs the shared data's {relative} (not found under {DATA}; set GOLF_DATA)")
    return path
