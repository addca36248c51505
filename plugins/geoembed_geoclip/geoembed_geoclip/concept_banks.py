"""The ``geodata.geoclip`` concept bank, shipped as this plugin's package data.

20 concept activation vectors (linear probes, 512-d) in pretrained GeoCLIP's location space, fitted on real climate,
land cover, coast and elevation labels of 20,000 land points by ``plugins/geoembed_geoclip/scripts/
build_geodata_concepts.py`` (sources and licences in ``data/README.md`` next to the bank). Registered as the
``geodata.geoclip`` entry point of the ``geoembed.concept_banks`` group (``pyproject.toml``).
"""

from __future__ import annotations

from importlib import resources

from geoembed.concepts.bank import ConceptBank

GEODATA_GEOCLIP_FOLDER = "geodata_geoclip"


def geodata_geoclip_bank() -> ConceptBank:
    """Climate, land cover, coast and elevation concepts as linear probes in pretrained GeoCLIP's space."""
    with resources.as_file(resources.files("geoembed_geoclip") / "data" / "concepts" / GEODATA_GEOCLIP_FOLDER) as path:
        return ConceptBank.load(path)
