"""Any open_clip model as an image backbone (and a text encoder: CLIP's text tower shares the image space).

``create_image_backbone("open_clip", model_name="ViT-L-14", pretrained="openai")`` resolves the weights offline-first:

1. ``pretrained="/path/to/file"``: that file (``.safetensors``, ``.bin``, ``.pth``; loaded with safe loaders only),
   in open_clip's layout or in Hugging Face transformers' ``CLIPModel`` layout (renamed on load);
2. ``pretrained="<tag>"`` (see ``open_clip.list_pretrained_tags_by_model(name)``): the file in the Hugging Face cache
   if it is there (for ``"openai"``, transformers' copy such as ``openai/clip-vit-large-patch14`` counts too), else
   open_clip downloads it (unless ``GEOEMBED_OFFLINE`` / ``HF_HUB_OFFLINE`` is set);
3. ``pretrained=None`` / ``False``: random initialisation (how the tests build tiny models).

A tag's preprocessing (mean, std, interpolation) and activation (QuickGELU for OpenAI weights) are applied however the
file was found, so the same tag gives the same model from the cache, the hub or a copied file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch

from geoembed.image_backbones import transformers_clip
from geoembed.image_backbones.hub import describe_file, hf_cached_file, require_online, unavailable
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.image_backbones.contract import ImageBackbone
from geoembed.weights import load_state_dict

_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


class OpenCLIPBackbone(ImageBackbone):
    """An open_clip model: ``encode`` gives the projected image embedding (``embed_dim`` wide, 768 for ViT-L-14).

    The whole CLIP model is kept, so :meth:`encode_text` maps texts into the same space as the images.
    """

    def __init__(self, model: torch.nn.Module, transform: Any, tokenizer: Any, *, model_name: str,
                 weights: str | None):
        super().__init__()
        self.model = model.eval()
        self.transform = transform
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.weights = weights
        visual = model.visual
        self.feature_dim = int(visual.output_dim)
        size = visual.image_size
        self.image_size = (size, size) if isinstance(size, int) else tuple(size)
        # open_clip's half precision converts the convolutions and linear layers only; pixels must match the first one
        first = next((m for m in visual.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))), None)
        self._input_dtype = first.weight.dtype if first is not None else torch.float32
        cfg = getattr(visual, "preprocess_cfg", {}) or {}
        self.mean = tuple(cfg.get("mean", ImageBackbone.mean))
        self.std = tuple(cfg.get("std", ImageBackbone.std))

    def encode(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(batch.to(self._input_dtype))

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts to ``(N, feature_dim)`` embeddings in the image space (unnormalised, as ``encode``)."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts) or len(texts) == 0:
            raise ValueError("texts must be a non-empty list of strings.")
        tokens = self.tokenizer(list(texts)).to(self.device)
        return self.model.encode_text(tokens)


def open_clip_backbone(
    model_name: str = "ViT-B-32",
    pretrained: str | Path | bool | None = None,
    *,
    precision: str = "fp32",
    **model_kwargs: Any,
) -> OpenCLIPBackbone:
    """Factory registered as ``"open_clip"``: any open_clip architecture with any pretrained tag, file or none.

    Args:
        model_name: an open_clip architecture (``open_clip.list_models()``), or ``"hf-hub:org/repo"`` /
            ``"local-dir:/path"`` (open_clip's own schemas, which carry their config and weights).
        pretrained: a tag (``"openai"``), a weights file, or None/False for random weights.
        precision: ``"fp32"``, ``"fp16"``, ``"bf16"``...
        **model_kwargs: overrides of the architecture's config (``embed_dim=``, ``vision_cfg=``, ``text_cfg=``):
            small custom models for tests, or variants.
    """
    import open_clip

    if pretrained is True:
        raise ValueError(
            f"pretrained=True is ambiguous for open_clip: name a tag (one of "
            f"{open_clip.list_pretrained_tags_by_model(model_name)}) or a weights file."
        )
    options: dict[str, Any] = dict(precision=precision, **model_kwargs)
    weights: str | None = None
    schema = model_name.split(":", 1)[0] if ":" in model_name else None
    if schema is not None:  # open_clip resolves hf-hub: and local-dir: itself (config and weights together)
        source: str | None = None
        weights = f"open_clip {model_name}"
    elif pretrained in (None, False, ""):
        source = None
    else:
        path, tag_cfg = _resolve_checkpoint(open_clip, model_name, str(pretrained))
        source = str(path)
        weights = describe_file(f"open_clip {model_name} {pretrained!r}" if tag_cfg else f"open_clip {model_name}", path)
        if tag_cfg:
            options.update({f"image_{k}": tag_cfg[k] for k in _PREPROCESS_KEYS if k in tag_cfg})
            options["force_quick_gelu"] = bool(tag_cfg.get("quick_gelu", False))
    converted = source is not None and transformers_clip.is_transformers_clip(transformers_clip.checkpoint_keys(source))
    if converted:
        options["force_quick_gelu"] = True  # OpenAI's CLIP, the models saved in transformers' layout, use QuickGELU
    try:
        model, _, transform = open_clip.create_model_and_transforms(
            model_name, pretrained=None if converted else source, **options
        )
        if converted:
            state = transformers_clip.to_open_clip(load_state_dict(source))
            model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError) as exc:
        if source is None:
            raise
        raise WeightsError(
            f"open_clip could not load {source} into {model_name}: {type(exc).__name__}: {exc}. Check that the file "
            f"holds weights of this architecture (and that model_name matches, e.g. 'ViT-L-14' for OpenAI's CLIP "
            f"ViT-L/14)."
        ) from exc
    tokenizer = open_clip.get_tokenizer(model_name)
    return OpenCLIPBackbone(model, transform, tokenizer, model_name=model_name, weights=weights)


def _resolve_checkpoint(open_clip: Any, model_name: str, pretrained: str) -> tuple[Path, dict]:
    """A file for ``pretrained`` (a path or a tag) and the tag's config ({} for a plain file), offline-first."""
    as_path = Path(pretrained).expanduser()
    tag_cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not tag_cfg:
        if as_path.is_file():
            return as_path, {}
        if as_path.suffix in (".pt", ".pth", ".bin", ".safetensors") or "/" in pretrained:
            raise WeightsNotFoundError(f"open_clip weights file {str(as_path)!r} does not exist. Check the path.")
        raise ValueError(
            f"{pretrained!r} is neither a file nor a pretrained tag of open_clip's {model_name!r}; its tags are "
            f"{open_clip.list_pretrained_tags_by_model(model_name)}."
        )
    hub = tag_cfg.get("hf_hub", "")
    if hub:
        repo_id, filename = os.path.split(hub)  # "org/repo/" names the repository's default file
        candidates = _hub_filenames(filename)
        cached = hf_cached_file(repo_id, candidates)
        if cached is None and pretrained == "openai" and model_name in transformers_clip.OPENAI_TRANSFORMERS_REPOS:
            # the same OpenAI weights, in transformers' layout (what the GeoCLIP reference package downloads)
            cached = hf_cached_file(transformers_clip.OPENAI_TRANSFORMERS_REPOS[model_name],
                                    transformers_clip.TRANSFORMERS_FILENAMES)
        if cached is not None:
            return cached, tag_cfg
        source, names = repo_id, candidates
    else:
        source, names = tag_cfg.get("url", ""), [tag_cfg.get("url", "").rsplit("/", 1)[-1]]
    what = f"open_clip {model_name} {pretrained!r}"
    require_online(what, source, names)  # fails in seconds, not after the download's retries
    try:
        return Path(open_clip.pretrained.download_pretrained(tag_cfg)), tag_cfg
    except Exception as exc:  # noqa: BLE001 - the hub's errors are many; the user needs one that says what to do
        raise unavailable(what, source, names, f"the download failed ({type(exc).__name__}: {exc})") from exc


def _hub_filenames(filename: str) -> list[str]:
    """open_clip's names for a Hub weights file, safetensors first (as open_clip's own download prefers)."""
    if not filename:
        return ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    if filename.endswith((".bin", ".pth")):
        return [filename[:-4] + ".safetensors", filename]
    return [filename]
