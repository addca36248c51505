"""Offline-first lookup of open_clip and timm weights in the Hugging Face cache, shared by both backbone plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from geoembed.errors import WeightsNotFoundError
from geoembed.weights import offline, sha256_file


def hf_cached_file(repo_id: str, filenames: Iterable[str]) -> Path | None:
    """The first of ``filenames`` already in the Hugging Face cache for ``repo_id`` (no network), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # hub support is optional: pip install pygeoembed[hub]
        return None
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def require_online(what: str, repo_id: str, filenames: list[str]) -> None:
    """Raise a helpful :class:`WeightsNotFoundError` when downloads are switched off and nothing is cached."""
    if not offline():
        return
    raise WeightsNotFoundError(
        f"Pretrained weights for {what} are not in the Hugging Face cache, and downloads are off (GEOEMBED_OFFLINE or "
        f"HF_HUB_OFFLINE is set). Any one of these fixes it:\n"
        f"  - download once while online: huggingface-cli download {repo_id} {filenames[0]};\n"
        f"  - pass the weights file explicitly: pretrained='/path/to/{filenames[0]}';\n"
        f"  - unset GEOEMBED_OFFLINE / HF_HUB_OFFLINE to let geoembed download it."
    )


def describe_file(prefix: str, path: Path) -> str:
    """A one-line provenance of a weights file, with its sha256 (the backbone's ``weights`` description)."""
    return f"{prefix} from {path} (sha256 {sha256_file(path)})"
