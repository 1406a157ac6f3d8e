"""Writes tests/data/smollm2_tokenizer_goldens.json: llama.cpp's token ids (through llama-cpp-python, loading only
the GGUF's vocabulary) for edge-case strings and for the held-out FineWeb text, which the tests compare with the
Rust tokenizer. Run once, by hand; CI only reads the committed file.

llama-cpp-python builds llama.cpp from source (about 10 minutes on 2 cores):
    python3 -m venv .cache/llamacpp-venv
    .cache/llamacpp-venv/bin/pip install cmake ninja scikit-build-core numpy
    CMAKE_ARGS=-DGGML_NATIVE=OFF .cache/llamacpp-venv/bin/pip install --no-build-isolation llama-cpp-python==0.3.36
    .cache/llamacpp-venv/bin/python scripts/smollm2/tokenizer_goldens.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import llama_cpp

ROOT = Path(__file__).resolve().parents[2]
GGUF = ROOT / ".cache" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = ROOT / "tests" / "data" / "smollm2_tokenizer_goldens.json"

STRINGS = [
    # digits: one token per digit
    "0", "42", "3.14159", "1,234,567", "2026-11-28", "x1y22z333", "Call 555-0199 now", "٣٤٥ and ١٢",
    "1st 2nd 3rd 4th", "v0.22.2",
    # whitespace runs and line breaks
    " ", "  ", "   leading", "trailing   ", "a  b   c    d", "\t\ttabs\t", "line\nbreak", "\n\n\nthree",
    "mixed \t\n space", " \u00a0nbsp\u00a0 ", "\r\nwindows\r\n", "end with newline\n",
    # accents and other scripts
    "café naïve résumé", "Ångström", "São Paulo", "Zürich straße", "e\u0301 (combining acute)",
    "Привет, мир", "Γειά σου κόσμε", "שלום עולם", "مرحبا بالعالم", "नमस्ते दुनिया",
    # CJK
    "你好，世界", "日本語のテキスト", "한국어 문장", "漢字かな交じり文",
    # emoji
    "🙂", "👍🏽 thumbs", "👨‍👩‍👧‍👦 family", "🇫🇷 flag", "I ❤️ tokens",
    # code
    "def f(x):\n    return x**2", "for (int i = 0; i < n; i++) {}", "<div class=\"a\">b</div>",
    "SELECT * FROM t WHERE id=7;", "fn main() { println!(\"hi\"); }", "x = [1, 2, 3]  # list",
    "https://example.org/a?b=c&d=e", "user@example.com",
    # contractions and punctuation
    "I'm sure they'll say we've done it", "DON'T SHOUT", "Wait... what?!", "\"quoted\" and 'single'",
    "em—dash – en dash", "«guillemets»",
    # special-token look-alikes: plain text here, never control tokens
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>", "<repo_name>", "<file_sep>",
    "text <|endoftext|> more", "<|notatoken|>",
]


def main() -> None:
    llm = llama_cpp.Llama(model_path=str(GGUF), vocab_only=True, verbose=False)

    def ids(s: str) -> list[int]:
        return llm.tokenize(s.encode(), add_bos=False, special=False)

    goldens = {
        "source": "llama.cpp via llama-cpp-python " + llama_cpp.__version__ + ", tokenize(add_bos=False, special=False)",
        "gguf_sha256": hashlib.sha256(GGUF.read_bytes()).hexdigest(),
        "strings": [{"text": s, "ids": ids(s)} for s in STRINGS],
    }
    # Held-out text (committed in samples/), by its path in the repository and its sha256 to pair them.
    files = []
    for rel in ["samples/fineweb-val-first-docs.txt"]:
        data = (ROOT / rel).read_bytes()
        files.append({"file": rel, "sha256": hashlib.sha256(data).hexdigest(), "ids": ids(data.decode())})
    goldens["files"] = files
    OUT.write_text(json.dumps(goldens, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}: {len(STRINGS)} strings, {sum(len(f['ids']) for f in files)} file tokens")


if __name__ == "__main__":
    main()
