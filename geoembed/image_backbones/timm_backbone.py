"""Any timm model as an image backbone, with any number of input channels (multispectral imagery).

``create_image_backbone("timm", model_name="resnet18", pretrained=True, in_chans=13)``:

- ``pretrained=False`` (default): random initialisation;
- ``pretrained="/path/to/file"``: that checkpoint (an RGB ImageNet checkpoint is adapted to ``in_chans`` the way timm
  does it: the RGB filters repeated and rescaled; a checkpoint that already has ``in_chans`` channels loads unchanged);
- ``pretrained=True``: the model's default weights (``"resnet50.a1_in1k"`` picks a tag), from the Hugging Face cache,
  else downloaded by timm (unless ``GEOEMBED_OFFLINE`` / ``HF_HUB_OFFLINE`` is set).

The classifier is removed (``num_classes=0``): ``encode`` gives timm's pooled features (``num_features`` wide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from geoembed.image_backbones.hub import describe_file, hf_cached_file, require_online
from geoembed.errors import WeightsError, WeightsNotFoundError
from geoembed.image_backbones.contract import ImageBackbone


class TimmBackbone(ImageBackbone):
    """A timm model without its classifier; preprocessing from the model's own data config."""

    def __init__(self, model: torch.nn.Module, *, model_name: str, weights: str | None, in_chans: int,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        super().__init__()
        import timm.data

        self.model = model.eval()
        self.model_name = model_name
        self.weights = weights
        self.in_chans = in_chans
        self.feature_dim = int(model.num_features)
        config = timm.data.resolve_data_config({}, model=model)
        self.image_size = tuple(config["input_size"][1:])
        # RGB statistics repeated over extra channels, as timm repeats RGB filters when it adapts the first layer.
        self.mean = tuple(float(v) for v in (mean if mean is not None else _cycle(config["mean"], in_chans)))
        self.std = tuple(float(v) for v in (std if std is not None else _cycle(config["std"], in_chans)))
        if len(self.mean) != in_chans or len(self.std) != in_chans:
            raise ValueError(f"mean and std need {in_chans} values (one per channel), got {self.mean} and {self.std}.")
        if in_chans == 3:
            self.transform = timm.data.create_transform(**{**config, "mean": self.mean, "std": self.std})

    def encode(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch)


def timm_backbone(
    model_name: str = "resnet18",
    pretrained: bool | str | Path | None = False,
    *,
    in_chans: int = 3,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    **model_kwargs: Any,
) -> TimmBackbone:
    """Factory registered as ``"timm"``: any timm model (``timm.list_models()``), classifier removed.

    Args:
        model_name: a timm architecture, optionally with a weights tag (``"vit_small_patch16_224.augreg_in21k"``).
        pretrained: False/None (random), True (the tag's weights: cache, then hub), or a checkpoint file.
        in_chans: input channels; pretrained RGB weights are adapted by timm.
        mean, std: per-channel normalisation (default: the weights' RGB statistics, cycled over ``in_chans``).
        **model_kwargs: passed to ``timm.create_model`` (``img_size=``, ``drop_path_rate=``...).
    """
    import timm

    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"in_chans must be a positive integer, got {in_chans!r}.")
    if not timm.is_model(model_name.split(".", 1)[0]):
        raise ValueError(f"timm has no model {model_name!r}; see timm.list_models('{model_name.split('.')[0][:4]}*').")
    options: dict[str, Any] = dict(num_classes=0, in_chans=in_chans, **model_kwargs)
    weights: str | None = None
    if pretrained in (None, False, ""):
        options["pretrained"] = False
    else:
        path = _resolve_checkpoint(timm, model_name, pretrained)
        if path is not None:
            options.update(pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
            weights = describe_file(f"timm {model_name}", path)
        else:  # not cached and online: timm downloads into the Hugging Face cache
            options["pretrained"] = True
    try:
        model = timm.create_model(model_name, **options)
    except RuntimeError as exc:
        if not options["pretrained"]:
            raise
        raise WeightsError(f"timm could not load weights into {model_name}: {exc}") from exc
    if options["pretrained"] and weights is None:  # downloaded just now: describe the cached file
        path = _cached_default(timm, model_name)
        weights = describe_file(f"timm {model_name}", path) if path else f"timm {model_name} (hub default weights)"
    return TimmBackbone(model, model_name=model_name, weights=weights, in_chans=in_chans, mean=mean, std=std)


def _resolve_checkpoint(timm: Any, model_name: str, pretrained: Any) -> Path | None:
    """A checkpoint file (explicit or cached), or None when timm should download; raises when offline."""
    if pretrained is not True:
        path = Path(str(pretrained)).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"timm weights file {str(path)!r} does not exist. Pass pretrained=True for the model's default "
                f"weights, or a path to an existing checkpoint."
            )
        return path
    cached = _cached_default(timm, model_name)
    if cached is not None:
        return cached
    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise WeightsNotFoundError(f"timm has no pretrained weights for {model_name!r}; use pretrained=False.")
    require_online(f"timm {model_name}", cfg.hf_hub_id or cfg.url, _hub_filenames(cfg))
    return None


def _cached_default(timm: Any, model_name: str) -> Path | None:
    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None or not cfg.hf_hub_id:
        return None
    return hf_cached_file(cfg.hf_hub_id, _hub_filenames(cfg))


def _hub_filenames(cfg: Any) -> list[str]:
    if getattr(cfg, "hf_hub_filename", None):
        return [cfg.hf_hub_filename]
    return ["model.safetensors", "pytorch_model.bin"]


def _cycle(values: Sequence[float], n: int) -> list[float]:
    return [values[i % len(values)] for i in range(n)]
