"""Sentence embeddings on the CPU, loaded from the model files on disk (never from a hub).

Backends (measured by `rag bench`, quality by `rag eval`; see docs/bench.md):
  torch      sentence-transformers as shipped.
  onnx       the same network exported once, locally, to ONNX and run by ONNX Runtime with the model's own
             tokenizer: the same vectors (cosine ≥ 0.9999, tested), ~1.2× faster, and it imports in a fraction of
             a second (no torch), which is what makes `ask` start fast.
  onnx-int8  that export with int8 weights (dynamic quantization): ~1.5× torch's throughput, vectors within
             cosine ~0.99 of torch's, eval retrieval within one point. An index records which one built it.
"auto" is onnx-int8 when onnxruntime is installed and the model is a mean-pooled encoder, else torch.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag import progress as listener
from rag.config import MODEL_CACHE_DIR
from rag.errors import ModelError

log = logging.getLogger("rag.index.embed")
BACKENDS = ("auto", "onnx", "onnx-int8", "torch")
PROGRESS_BLOCK = 512  # texts per progress-bar step
LISTENER_BLOCK = 64  # texts per report to a listener (rag/progress.py)
ONNX_EXPORT_VERSION = 1  # bump when the export recipe changes: cached exports are then redone


@contextmanager
def _offline():
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update(dict.fromkeys(saved, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Embedder:
    """`name` identifies the vectors: an index records it, and a different name means re-embedding."""

    def __init__(
        self, name: str, path: Path, backend: str = "auto", cache_dir: Path | None = None, weights_sha256: str = "", batch_size: int = 32
    ):
        """`weights_sha256` (models.txt's, already verified) names the ONNX export without hashing the weights again."""
        if backend not in BACKENDS:
            raise ModelError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.model_name = name
        self.path = Path(path)
        self.weights_sha256 = weights_sha256
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir or MODEL_CACHE_DIR)
        self.backend = _choose_backend(backend, self.path)
        # int8 weights move vectors by ~1% (cosine ~0.99): an index built one way must not be queried the other
        self.name = f"{name}#int8" if self.backend == "onnx-int8" else name
        self._impl = None
        self._dictionary: frozenset[str] | None = None

    @classmethod
    def from_settings(cls, settings) -> "Embedder":
        """The embedding model models.txt names (checked against its sha256), with the configured backend."""
        from rag.models import resolve

        spec, path = resolve(settings.models_file, "embed", settings.embed_model, settings.index_dir / ".verified.json")
        return cls(spec.name, path, settings.embed_backend, settings.model_cache_dir, spec.sha256)

    @property
    def impl(self):
        if self._impl is None:
            if self.backend == "torch":
                self._impl = _TorchEncoder(self.path)
            else:
                model_file = onnx_export(self.path, self.cache_dir, self.backend == "onnx-int8", self.weights_sha256)
                self._impl = OnnxEncoder(self.path, model_file)
        return self._impl

    @property
    def dim(self) -> int:
        return self.impl.dim

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit vectors, one row per text; with `progress`, a bar with the chunk count and time left."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        if listener.active():  # someone follows the build (the web page): report every block of chunks
            parts = []
            for start in range(0, len(texts), LISTENER_BLOCK):
                listener.report("embed", start, len(texts))
                parts.append(np.asarray(self.impl.encode(texts[start : start + LISTENER_BLOCK], self.batch_size), dtype=np.float32))
            listener.report("embed", len(texts), len(texts))
            return np.concatenate(parts)
        if not progress or len(texts) <= PROGRESS_BLOCK:
            return np.asarray(self.impl.encode(texts, self.batch_size), dtype=np.float32)
        from tqdm import tqdm

        parts = []
        with tqdm(total=len(texts), desc="Embedding", unit="chunk") as bar:
            for start in range(0, len(texts), PROGRESS_BLOCK):
                block = texts[start : start + PROGRESS_BLOCK]
                parts.append(np.asarray(self.impl.encode(block, self.batch_size), dtype=np.float32))
                bar.update(len(block))
        return np.concatenate(parts)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_with_states(self, texts: list[str]) -> tuple[np.ndarray, list]:
        """Unit vectors and each text's (word-piece ids, token vectors): what the reader reads. The ONNX backends
        give both from one run; the torch backend has no token vectors (the reader is then not used)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        impl = self.impl
        if not hasattr(impl, "encode_with_states"):
            raise ModelError("the reader needs the ONNX embedding backend (embed_backend=onnx or onnx-int8)")
        vectors, states = impl.encode_with_states(list(texts), self.batch_size)
        return np.asarray(vectors, dtype=np.float32), states

    def dictionary(self) -> frozenset[str]:
        """The whole words of the model's WordPiece vocabulary (~20k common English words): a question word that
        neither this nor the corpus knows is a specific name (rag/engine/query.py)."""
        if self._dictionary is None:
            try:
                lines = (self.path / "vocab.txt").read_text(encoding="utf-8").split("\n")
            except OSError:
                lines = []
            self._dictionary = frozenset(w for w in lines if w.isalpha() and w.islower())
        return self._dictionary


def _choose_backend(backend: str, path: Path) -> str:
    if backend != "auto":
        return backend
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        return "torch"
    return "onnx-int8" if _onnx_recipe(path) else "torch"


def _onnx_recipe(path: Path) -> dict | None:
    """What the ONNX encoder needs to reproduce sentence-transformers: Transformer → mean pooling → Normalize."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((path / "modules.json").read_text())]
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        st_config = json.loads((path / "sentence_bert_config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if modules[:1] != ["Transformer"] or modules[1:2] != ["Pooling"] or not pooling.get("pooling_mode_mean_tokens"):
        return None
    if not (path / "tokenizer.json").exists():
        return None
    return {"max_length": int(st_config.get("max_seq_length", 256)), "normalize": "Normalize" in modules}


class _TorchEncoder:
    def __init__(self, path: Path):
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars on every start are noise
            with _offline():  # the weights are local files: nothing may call a hub from here
                self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as e:
            raise ModelError(f"cannot load embedding model from {path}: {e}") from None
        self.dim = int(self.model.get_embedding_dimension())

    def encode(self, texts, batch_size):
        return self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


@dataclass(frozen=True)
class TokenStates:
    """A text as the encoder saw it: its word pieces, their character offsets, their output vectors."""

    ids: np.ndarray
    offsets: np.ndarray  # (n, 2)
    vectors: np.ndarray  # (n, dim) float16


class OnnxEncoder:
    def __init__(self, path: Path, model_file: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        recipe = _onnx_recipe(path)
        if recipe is None:
            raise ModelError(f"the ONNX backend needs a mean-pooled sentence-transformers model; {path} is not one (use embed_backend=torch)")
        self.normalize = recipe["normalize"]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=recipe["max_length"])
        self.tokenizer.no_padding()  # padded per batch below, to the batch's longest text
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Memory (issue 24): a batch of 32 chunks of 256 tokens needs ~130 MB of activations (the attention
        # matrices). Without a memory pattern, and with the arena shrunk after every run, that is given back as
        # soon as the batch is done instead of being kept for the life of the process. Same vectors, bit for bit.
        options.enable_mem_pattern = False
        self.run_options = ort.RunOptions()
        self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        try:
            self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ModelError(f"cannot load the ONNX export {model_file}: {e}") from None
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts, batch_size):
        return self.encode_with_states(texts, batch_size, keep_states=False)[0]

    def encode_with_states(self, texts, batch_size, keep_states: bool = True):
        """(vectors, states): the pooled vectors, and with `keep_states` each text's (word-piece ids, token
        vectors as float16) as well, from the same run: the reader (rag/engine/reader.py) reads the tokens."""
        encodings = self.tokenizer.encode_batch(texts)
        states: list = [None] * len(texts)
        # longest first, as sentence-transformers does: batches of similar length waste little on padding
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs}, self.run_options)[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            if self.normalize:
                vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            out[rows] = vectors
            if keep_states:
                for r, i in enumerate(rows):
                    n = len(encodings[i].ids)
                    states[i] = TokenStates(np.asarray(encodings[i].ids, dtype=np.int64),
                                            np.asarray(encodings[i].offsets, dtype=np.int32), hidden[r, :n].astype(np.float16))
        return out, states


def onnx_export(path: Path, cache_dir: Path, int8: bool = False, weights_sha256: str = "") -> Path:
    """The model's ONNX export, made once from the local weights (needs torch then) and cached by their hash.

    Writes are atomic (temp file + rename), so concurrent processes at worst export twice.
    """
    from rag.models import sha256_file

    weights = path / "model.safetensors"
    if not weights.exists():
        raise ModelError(f"cannot export {path} to ONNX: no model.safetensors")
    key = f"{(weights_sha256 or sha256_file(weights))[:16]}-v{ONNX_EXPORT_VERSION}"
    fp32 = cache_dir / f"{key}.onnx"
    target = cache_dir / f"{key}-int8.onnx" if int8 else fp32
    if _valid(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not _valid(fp32):
        log.warning("exporting the embedding model to ONNX (once; about 10 s)")
        _atomic(fp32, lambda tmp: export_fp32(path, tmp))
    if int8:
        _atomic(target, lambda tmp: quantize(fp32, tmp))
    return target


def _valid(file: Path) -> bool:
    """An export counts only with its recorded checksum: a torn or altered file is redone, never loaded."""
    from rag.models import ModelSpec, verify

    stamp = file.with_suffix(".sha256")
    if not (file.exists() and stamp.exists()):
        return False
    try:  # verify() remembers a checked file by size and mtime, so this hashes once, not on every start
        verify(ModelSpec("embed", file.name, f"path:{file}", stamp.read_text().strip()), file, file.parent / ".verified.json")
    except ModelError:
        return False
    return True


def _atomic(file: Path, make) -> None:
    from rag.models import sha256_file

    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        make(tmp)
        stamp_tmp = tmp.with_suffix(".sha256tmp")
        stamp_tmp.write_text(sha256_file(tmp))
        os.replace(tmp, file)
        os.replace(stamp_tmp, file.with_suffix(".sha256"))
    except OSError as e:
        raise ModelError(f"cannot write the ONNX export to {file.parent}: {e.strerror or e}") from None
    finally:
        for leftover in (tmp, tmp.with_suffix(".sha256tmp")):
            leftover.unlink(missing_ok=True)


def export_fp32(path: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModel
    except ImportError as e:
        raise ModelError(f"exporting the embedding model to ONNX needs torch and transformers ({e}); or set embed_backend=torch") from None

    with _offline():
        model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()

    class LastHidden(torch.nn.Module):  # keyword arguments: BertModel's positional order differs across versions
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    dummy = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent branches; outputs are tested
        torch.onnx.export(
            LastHidden(model), (dummy, dummy, torch.zeros_like(dummy)), str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
            opset_version=17, dynamo=False,
        )


def quantize(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.INFO)  # the quantizer logs a line per tensor on the root logger
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.disable(logging.NOTSET)
