"""Embedding backends: the ONNX export gives sentence-transformers' vectors, is checked before use, and keeps
torch out of the question-answering process."""

import subprocess
import sys

import numpy as np
import pytest

from rag.index.embed import Embedder, onnx_export
from rag.errors import ModelError

TEXTS = [
    "Who was Biden's nominee for commerce secretary?",
    "Hi",
    "Nvidia's chief executive said the company would keep shipping chips to China. " * 3,
    "word " * 400,  # longer than the model's 256 word pieces: truncated the same way by both backends
    "Ünïcödé — “quotes”, emoji 🙂 and 中文 text",
]


@pytest.fixture(scope="module")
def backends(settings):
    return {b: Embedder.from_settings(settings.replace(embed_backend=b)) for b in ("torch", "onnx", "onnx-int8")}


def test_onnx_vectors_match_sentence_transformers(backends):
    ref = backends["torch"].encode(TEXTS)
    onnx = backends["onnx"].encode(TEXTS)
    assert onnx.shape == ref.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert (onnx * ref).sum(axis=1).min() > 0.9999
    # batching and padding do not change a text's vector
    alone = np.vstack([backends["onnx"].encode([t]) for t in TEXTS])
    assert np.abs(alone - onnx).max() < 1e-4


def test_int8_is_close_but_named_apart(backends):
    ref = backends["torch"].encode(TEXTS)
    int8 = backends["onnx-int8"].encode(TEXTS)
    assert (int8 * ref).sum(axis=1).min() > 0.95
    # different vectors: an index built with one must not be searched with the other
    assert backends["onnx-int8"].name != backends["torch"].name == backends["onnx"].name


def test_damaged_export_is_redone_not_loaded(backends, tmp_path):
    e = backends["onnx"]
    first = onnx_export(e.path, tmp_path, weights_sha256=e.weights_sha256)
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    first.write_bytes(bytes(data))
    again = onnx_export(e.path, tmp_path, weights_sha256=e.weights_sha256)
    assert again == first and first.read_bytes() != bytes(data)
    fresh = Embedder(e.model_name, e.path, "onnx", tmp_path, e.weights_sha256)
    assert (fresh.encode(TEXTS[:1]) * backends["torch"].encode(TEXTS[:1])).sum() > 0.9999


def test_unknown_backend_is_a_clear_error(backends):
    with pytest.raises(ModelError, match="unknown embedding backend 'tensorflow'"):
        Embedder("m", backends["onnx"].path, "tensorflow")


def test_answering_does_not_import_torch(settings, pipeline):
    """Cold start of `ask` is bounded by what it imports: torch and sentence-transformers take ~10 s."""
    pipeline.answer("warm the index")  # the shared index exists before the child process opens it
    code = (
        "import sys\n"
        "from rag.engine.pipeline import Pipeline\n"
        "from rag.config import Settings\n"
        f"p = Pipeline(Settings.from_env(corpus_dir={str(settings.corpus_dir)!r}, index_dir={str(settings.index_dir)!r}))\n"
        "a = p.answer(\"Who was Biden's nominee for commerce secretary?\")\n"
        "print(a.answer)\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'langchain_text_splitters', 'gradio') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    answer, loaded = out.stdout.strip().splitlines()[-2:]
    assert "Raimondo" in answer
    assert loaded == "[]"
