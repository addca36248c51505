"""The concept banks that ship with geoembed, registered as entry points of the ``geoembed.concept_banks`` group.

- ``geography``: the geography-driven concept set (natural and human concepts, ``data/concepts/geography.yaml``),
  embedded with a text encoder (offline MiniLM by default; any registered one, e.g. an open_clip text tower).
- ``generic``: everyday non-geographic concepts of similar size (``data/concepts/generic.yaml``), for ablations.

Banks in a model's location space come with that model's plugin, e.g. ``geodata.geoclip`` (concept activation
vectors in pretrained GeoCLIP's space) from the GeoCLIP plugin (distribution ``geoembed-geoclip``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from geoembed.concepts.bank import ConceptBank

GEOGRAPHY_FILE = "geography.yaml"
GENERIC_FILE = "generic.yaml"


def _data_path(name: str):
    return resources.files("geoembed") / "data" / "concepts" / name


def _text_bank(filename: str, text_encoder: Any, prompt: str | None, progress: bool, **encoder_kwargs: Any):
    with resources.as_file(_data_path(filename)) as path:
        return ConceptBank.from_file(path, text_encoder=text_encoder, prompt=prompt, progress=progress,
                                     **encoder_kwargs)


def geography_bank(text_encoder: Any = "minilm", *, prompt: str | None = None, progress: bool = False,
                   **encoder_kwargs: Any) -> ConceptBank:
    """The geography-driven concept set embedded with ``text_encoder`` (cached on disk per encoder)."""
    return _text_bank(GEOGRAPHY_FILE, text_encoder, prompt, progress, **encoder_kwargs)


def generic_bank(text_encoder: Any = "minilm", *, prompt: str | None = None, progress: bool = False,
                 **encoder_kwargs: Any) -> ConceptBank:
    """The generic (non-geographic) concept set embedded with ``text_encoder``."""
    return _text_bank(GENERIC_FILE, text_encoder, prompt, progress, **encoder_kwargs)
