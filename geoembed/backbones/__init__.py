"""Built-in image backbone plugins: any open_clip model and any timm model.

Both register through the ``geoembed.image_backbones`` entry point group of the ``pygeoembed`` distribution (see
``pyproject.toml``), exactly as a third-party backbone would:

- ``open_clip`` -> :func:`geoembed.backbones.open_clip_backbone.open_clip_backbone`;
- ``timm`` -> :func:`geoembed.backbones.timm_backbone.timm_backbone`.

Pretrained weights are resolved offline-first by :mod:`geoembed.backbones.hub`: an explicit file, then the Hugging Face
cache, then (when online) open_clip's or timm's own hub download.
"""
