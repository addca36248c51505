"""Image backbones: the contract (``contract.py``), the built-in open_clip and timm plugins, and image inputs.

``images.py`` reads photos and extracts features with any backbone; ``patches.py`` serves raster patches as images.
The built-in plugins are any open_clip model and any timm model.

Both register through the ``geoembed.image_backbones`` entry point group of the ``pygeoembed`` distribution (see
``pyproject.toml``), exactly as a third-party backbone would:

- ``open_clip`` -> :func:`geoembed.image_backbones.open_clip_backbone.open_clip_backbone`;
- ``timm`` -> :func:`geoembed.image_backbones.timm_backbone.timm_backbone`.

Pretrained weights are resolved offline-first by :mod:`geoembed.image_backbones.hub`: an explicit file, then the Hugging Face
cache, then (when online) open_clip's or timm's own hub download.
"""
