"""The public API: every name geoembed exports resolves, and the documented registry functions exist per kind."""

from __future__ import annotations

import pytest

import geoembed


@pytest.mark.parametrize("name", sorted(geoembed._LAZY))
def test_every_exported_name_resolves(name):
    assert getattr(geoembed, name) is not None
    assert name in dir(geoembed)


@pytest.mark.parametrize("kind", ["image_backbone", "location_encoder", "concept_bank"])
def test_registry_contract_per_kind(kind):
    for verb in ("register", "create"):
        assert callable(getattr(geoembed, f"{verb}_{kind}"))
    assert isinstance(getattr(geoembed, f"list_{kind}s")(), list)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'encode_locations_typo'"):
        geoembed.encode_locations_typo  # noqa: B018
