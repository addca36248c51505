"""The public API: every name geoembed exports resolves, and the documented registry functions exist per kind."""

from __future__ import annotations

import pytest

import geoembed


@pytest.mark.parametrize("name", sorted(geoembed._LAZY))
def test_every_exported_name_resolves(name):
    assert getattr(geoembed, name) is not None
    deprecated = name in geoembed._DEPRECATED or name == "load_task"
    assert (name in dir(geoembed)) != deprecated  # deprecated aliases resolve but are not advertised


@pytest.mark.parametrize("kind", ["image_backbone", "location_encoder", "concept_bank", "text_encoder", "task",
                                  "gallery", "concept_projection"])
def test_registry_contract_per_kind(kind):
    for verb in ("register", "create"):
        assert callable(getattr(geoembed, f"{verb}_{kind}"))
    plural = "galleries" if kind == "gallery" else f"{kind}s"
    assert isinstance(getattr(geoembed, f"list_{plural}")(), list)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'encode_locations_typo'"):
        geoembed.encode_locations_typo  # noqa: B018


@pytest.mark.parametrize("old, new", [("get_location_encoder", "create_location_encoder"),
                                      ("get_image_backbone", "create_image_backbone"),
                                      ("load_concept_bank", "create_concept_bank"),
                                      ("load_task", "create_task")])
def test_names_outside_the_registry_vocabulary_warn_with_the_new_name(old, new):
    import geoembed

    assert old not in geoembed.__all__ and new in geoembed.__all__
    with pytest.warns(DeprecationWarning, match=f"use (geoembed.)?{new}"):
        if old == "get_image_backbone":
            getattr(geoembed, old)("timm", model_name="resnet18", pretrained=False)
        elif old == "load_task":
            getattr(geoembed, old)("georgia_bachelors")
        elif old == "load_concept_bank":
            getattr(geoembed, old)("generic")
        else:
            getattr(geoembed, old)("xyz")
