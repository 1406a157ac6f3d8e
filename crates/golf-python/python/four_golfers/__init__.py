"""Four Golfers from Python: how tiny language models spend bits on text.

    import four_golfers as fg
    ar = fg.Golfer("ar")                        # gzip, ar, mdlm, smollm2 (models/), or Golfer.from_folder(DIR)
    s = ar.score("The adrenal glands are ...")  # s.bits, s.bytes, s.bpb, s.per_byte (numpy, one per byte)
    summary = fg.evaluate("samples/documents.jsonl", "results", golfers=["gzip", "ar"])

The numbers are those of the `golf` command line (the same Rust engine): a document's bits from `evaluate` equal
`Golfer.score` of it, and `golf score`'s. Errors are raised with the engine's message: `GolfError` for what a golfer
or a run refuses, `ValueError` for a bad setting, `FileNotFoundError` for a missing file or model folder.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Optional, Union

import numpy as np

from . import _native
from ._native import GolfError

__all__ = ["Golfer", "Score", "GolfError", "evaluate", "GOLFERS"]

#: The golfers that need no model folder of yours: gzip, and the three whose folders the repository builds.
GOLFERS = ("gzip", "ar", "mdlm", "smollm2")

Estimator = Literal["confidence", "l2r", "nelbo"]
PathLike = Union[str, "os.PathLike[str]"]


def _find_onnxruntime() -> None:
    """The neural golfers load ONNX Runtime's shared library: the one of the onnxruntime package, unless
    ORT_DYLIB_PATH names one."""
    if os.environ.get("ORT_DYLIB_PATH"):
        return
    try:
        import onnxruntime  # noqa: F401  (only for where its library is)
    except ImportError:
        return
    capi = Path(onnxruntime.__file__).parent / "capi"
    found = sorted(glob.glob(str(capi / "libonnxruntime.so.1.*")) + glob.glob(str(capi / "libonnxruntime.1.*.dylib")))
    if found:
        os.environ["ORT_DYLIB_PATH"] = found[0]


def _models_dir(models: Optional[PathLike]) -> Path:
    """The folder of model folders: `models`, else $GOLF_MODELS, else models/ in the current folder or above it."""
    if models is not None:
        return Path(models)
    if os.environ.get("GOLF_MODELS"):
        return Path(os.environ["GOLF_MODELS"])
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / "models" / "ar" / "golfer.json").is_file():
            return folder / "models"
    raise FileNotFoundError(
        "cannot find the models folder (models/ar/golfer.json) in the current folder or above it: "
        "pass models=DIR or set GOLF_MODELS"
    )


def _spec(golfer: PathLike, models: Optional[PathLike]) -> tuple[str, Optional[str]]:
    """(name, model folder): gzip has none; a name of GOLFERS is its folder under the models folder; anything
    else is a model folder's path."""
    name = os.fspath(golfer)
    if name == "gzip":
        return ("gzip", None)
    if name in GOLFERS:
        return (name, str(_models_dir(models) / name))
    return (Path(name).name, name)


@dataclass(frozen=True)
class Score:
    """A text's code length under one golfer."""

    #: Bits to transmit the text (the true code length: the model's bits plus what restores normalization).
    bits: float
    #: UTF-8 bytes of the text.
    bytes: int
    #: bits / bytes.
    bpb: float
    #: Tokens the model read (None for gzip).
    tokens: Optional[int]
    #: Parameter Golf's byte count and the bits per byte over it, where the tokenizer makes it differ.
    golf_bytes: Optional[int]
    golf_bpb: Optional[float]
    #: How the bits were estimated, where a golfer has more than one way.
    method: Optional[str]
    #: The bits of each byte (each token's spread evenly over its bytes); sums to `bits`.
    per_byte: np.ndarray


class Golfer:
    """One golfer, loaded once: `Golfer("gzip")`, `Golfer("ar")` (and "mdlm", "smollm2", from the models folder),
    or `Golfer.from_folder(DIR)` for a model folder such as `golf import` writes."""

    def __init__(self, name: str = "gzip", *, models: Optional[PathLike] = None, gzip_method: Literal["exact", "marginal"] = "exact"):
        if name not in GOLFERS:
            raise ValueError(f"the golfers are {', '.join(GOLFERS)}, not {name!r} (a model folder: Golfer.from_folder)")
        spec, folder = _spec(name, models)
        if folder is not None:
            _find_onnxruntime()
        self._native = _native.NativeGolfer(spec, folder, gzip_method)
        self._info = self._native.info()

    @classmethod
    def from_folder(cls, folder: PathLike) -> "Golfer":
        _find_onnxruntime()
        golfer = cls.__new__(cls)
        golfer._native = _native.NativeGolfer(Path(folder).name, os.fspath(folder), "exact")
        golfer._info = golfer._native.info()
        return golfer

    @property
    def id(self) -> str:
        return self._info["id"]

    @property
    def label(self) -> str:
        return self._info["label"]

    @property
    def about(self) -> str:
        return self._info["about"]

    @property
    def params(self) -> Optional[int]:
        return self._info["params"]

    @property
    def model_bytes(self) -> int:
        return self._info["model_bytes"]

    def __repr__(self) -> str:
        return f"Golfer({self.id!r}: {self.label})"

    def score(self, text: str, *, stride: Optional[int] = None, estimator: Estimator = "confidence", steps: int = 64, mask_seed: int = 0) -> Score:
        """The bits this golfer needs for `text`. `stride` (neural golfers: a new window every N tokens) and the
        diffusion golfer's `estimator`, `steps` and `mask_seed` are `golf score`'s options."""
        if not isinstance(text, str):
            raise TypeError(f"text is a str, not {type(text).__name__}")
        d = self._native.score(text, stride, estimator, steps, mask_seed)
        per_byte = np.frombuffer(d.pop("per_byte"), dtype="<f8")
        return Score(per_byte=per_byte, **d)


def evaluate(
    corpus: PathLike,
    out: PathLike,
    *,
    golfers: Iterable[PathLike] = GOLFERS,
    models: Optional[PathLike] = None,
    tokenizer: Optional[PathLike] = None,
    shard_docs: int = 64,
    resamples: int = 1000,
    seed: int = 0,
    gzip_method: Literal["exact", "marginal"] = "exact",
    stride: Optional[int] = None,
    estimator: Estimator = "confidence",
    steps: int = 64,
    mask_seed: int = 0,
    progress: Optional[Callable[[dict[str, int]], Any]] = None,
) -> dict[str, Any]:
    """`golf eval` from Python: every document of `corpus` (a .jsonl file, a folder of .txt files, or a Parameter
    Golf shard with `tokenizer`) scored by each of `golfers` (names of GOLFERS or model folders) into `out`
    (documents.parquet, documents.jsonl, summary.json, and the shards a stopped run goes on from). Returns the
    summary: each golfer's bits per byte with its bootstrap interval, and each pair's difference. `progress` is
    called after each document with {shard, shards, documents_done, documents, kept}. Ctrl-C stops after the
    document in progress (KeyboardInterrupt); the same call again goes on."""
    specs = [_spec(g, models) for g in golfers]
    if any(folder is not None for _, folder in specs):
        _find_onnxruntime()
    summary = _native.evaluate(
        os.fspath(corpus), os.fspath(out), specs, None if tokenizer is None else os.fspath(tokenizer),
        shard_docs, resamples, seed, gzip_method, stride, estimator, steps, mask_seed, progress,
    )
    return json.loads(summary)
