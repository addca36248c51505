"""Old module paths of geoembed 0.1 that still import, with a :class:`DeprecationWarning` naming the new path.

The core was regrouped by kind (``location_encoders/``, ``image_backbones/``, ``retrieval/``). Third-party plugins
that import an old path keep working for one release; the import system is asked for the old name and returns the
module at its new place, so both names are the same module object (patching one patches the other).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "geoembed.location_encoder": "geoembed.location_encoders.contract",
    "geoembed.baselines": "geoembed.location_encoders.baselines",
    "geoembed.encode": "geoembed.location_encoders.encode",
    "geoembed.streaming": "geoembed.location_encoders.streaming",
    "geoembed.parallel": "geoembed.location_encoders.parallel",
    "geoembed.image_backbone": "geoembed.image_backbones.contract",
    "geoembed.backbones": "geoembed.image_backbones",
    "geoembed.backbones.hub": "geoembed.image_backbones.hub",
    "geoembed.backbones.open_clip_backbone": "geoembed.image_backbones.open_clip_backbone",
    "geoembed.backbones.timm_backbone": "geoembed.image_backbones.timm_backbone",
    "geoembed.backbones.transformers_clip": "geoembed.image_backbones.transformers_clip",
    "geoembed.images": "geoembed.image_backbones.images",
    "geoembed.patches": "geoembed.image_backbones.patches",
    "geoembed.geolocate": "geoembed.retrieval.geolocate",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module path and loads the module from its new place."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old path goes in the next release).",
                      DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module):
        """Nothing to run: the module at its new place is already imported (the import system files it under the
        old name too, keeping its own ``__name__`` and ``__spec__``)."""


def install() -> None:
    """Adds the finder once (geoembed/__init__.py calls it)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
