"""Types of the Rust extension (crates/golf-python/src/lib.rs); use the package's front (four_golfers)."""

from typing import Any, Callable, Optional

class GolfError(Exception): ...

class NativeGolfer:
    def __init__(self, spec: str, folder: Optional[str] = None, gzip_method: str = "exact") -> None: ...
    def info(self) -> dict[str, Any]: ...
    def score(self, text: str, stride: Optional[int] = None, estimator: str = "confidence", steps: int = 64, mask_seed: int = 0) -> dict[str, Any]: ...

def evaluate(
    corpus: str,
    out: str,
    golfers: list[tuple[str, Optional[str]]],
    tokenizer: Optional[str] = None,
    shard_docs: int = 64,
    resamples: int = 1000,
    seed: int = 0,
    gzip_method: str = "exact",
    stride: Optional[int] = None,
    estimator: str = "confidence",
    steps: int = 64,
    mask_seed: int = 0,
    progress: Optional[Callable[[dict[str, int]], Any]] = None,
) -> str: ...
