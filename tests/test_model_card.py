"""Model cards (geoembed/model_card.py), list_location_encoders(pretrained=...) and ``geoembed models``."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings

import pytest

import geoembed
from geoembed import registry
from geoembed.cli import main
from geoembed.errors import PluginWarning
from geoembed.model_card import ModelCard, card_of, weights_status, with_card
from geoembed.weights import WeightsRecord, cached_weights_path

from test_registry import clean_runtime, make_distribution, plugin_dir  # noqa: F401 - fixtures

RECORD = WeightsRecord(name="toy.v1", filename="toy.pth", sha256="0" * 64, source="a test", license="MIT",
                       citation="Doe 2030", url="https://example.invalid/toy.pth")


def _card(**changes) -> ModelCard:
    base = dict(family="Toy", embedding_dim=4, input_convention="(lat, lon) degrees", training_data="none",
                license="MIT", citation="Doe 2030")
    return ModelCard(**{**base, **changes})


def test_card_normalises_weights_and_is_frozen():
    assert _card(weights=RECORD).weights == (RECORD,)
    assert _card(weights=None).weights == () and not _card().pretrained
    assert _card(weights=[RECORD, RECORD]).pretrained
    with pytest.raises(dataclasses.FrozenInstanceError):
        _card().family = "x"  # type: ignore[misc]


@pytest.mark.parametrize("change, message", [
    (dict(embedding_dim=0), "embedding_dim"),
    (dict(embedding_dim=True), "embedding_dim"),
    (dict(license=" "), "license"),
    (dict(citation=""), "citation"),
    (dict(weights=["toy.v1"]), "WeightsRecord"),
])
def test_card_refuses_incomplete_fields(change, message):
    with pytest.raises((ValueError, TypeError), match=message):
        _card(**change)


def test_with_card_and_card_of():
    @with_card(_card())
    def factory():
        return None

    assert card_of(factory) == _card()

    def plain():
        return None

    plain.card = "not a card"  # type: ignore[attr-defined]
    assert card_of(plain) is None and card_of(lambda: None) is None
    with pytest.raises(TypeError, match="ModelCard"):
        with_card({"family": "Toy"})  # type: ignore[arg-type]


def test_weights_status_says_where_the_file_is():
    assert weights_status(RECORD) == "needs download"
    assert weights_status(dataclasses.replace(RECORD, url=None)) == "not available"
    target = cached_weights_path(RECORD)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x")
    assert weights_status(RECORD) == "cached"
    assert _card(weights=[RECORD, dataclasses.replace(RECORD, name="toy.v2", url=None)]).weights_status() \
        == "not available"  # the worst of several
    assert _card().weights_status() == "no weights"


def test_geoclip_weights_are_shipped_by_the_geoclip_wheel():
    from geoembed.weights import package_file_path
    from geoembed_geoclip.weights import LOCATION_ENCODER_MP16

    if package_file_path(LOCATION_ENCODER_MP16) is None:
        pytest.skip("the geoclip wheel is not installed")
    assert card_of(registry.location_encoders.get("geoclip")).weights_status() == "shipped"


@pytest.mark.parametrize("name", ["geoclip", "geoclip-bf16", "geoclip-random", "latlon", "xyz", "sphere_harmonics",
                                  "rff"])
def test_builtin_cards_describe_what_the_factory_builds(name):
    card = card_of(registry.location_encoders.get(name))
    assert card is not None
    kwargs = {"pretrained": False, "seed": 0} if name.startswith("geoclip") and name != "geoclip-random" else {}
    model = geoembed.create_location_encoder(name, **kwargs)
    assert card.embedding_dim == model.embedding_dim
    assert card.pretrained == (name in ("geoclip", "geoclip-bf16"))
    if card.pretrained:
        assert geoembed.create_location_encoder(name).weights in card.weights


def test_list_location_encoders_filters_by_pretrained(clean_runtime):  # noqa: F811
    geoembed.register_location_encoder("carded", with_card(_card(weights=RECORD))(lambda **kw: None))
    geoembed.register_location_encoder("uncarded", lambda **kw: None)
    pretrained = geoembed.list_location_encoders(pretrained=True)
    untrained = geoembed.list_location_encoders(pretrained=False)
    assert {"geoclip", "geoclip-bf16", "carded"} <= set(pretrained)
    assert {"latlon", "xyz", "rff", "sphere_harmonics", "geoclip-random", "uncarded"} <= set(untrained)
    assert not set(pretrained) & set(untrained)
    assert geoembed.list_location_encoders("geo*", pretrained=True) == ["geoclip", "geoclip-bf16", "geoclip-concept"]


def test_pretrained_filter_skips_a_broken_plugin_with_a_warning(plugin_dir):  # noqa: F811
    make_distribution(plugin_dir, "geoembed-broken", "fakeplugin_broken", "raise ImportError('needs libfoo 9')\n",
                      {"geoembed.location_encoders": {"broken_enc": "fakeplugin_broken:make"}})
    registry.refresh_plugins()
    with pytest.warns(PluginWarning, match="broken_enc"):
        names = geoembed.list_location_encoders(pretrained=True)
    assert "geoclip" in names and "broken_enc" not in names


def test_models_command_prints_every_field(capsys):
    assert main(["models", "geoclip", "latlon"]) == 0
    out = capsys.readouterr().out
    geoclip = out.split("\n\n")[0]
    for text in ("embedding width 512", "original input", "(lat, lon) degrees", "MP-16", "licence         MIT",
                 "NeurIPS 2023", "weights from", "geoclip/model/weights/location_encoder_weights.pth",
                 "weights here"):
        assert text in geoclip, text
    assert "training data   none (untrained)" in out
    assert "2 location encoders: 1 pretrained" in out


def test_models_command_short_json_and_filters(capsys):
    assert main(["models", "--short", "--pretrained", "geo*", "xyz"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "DIM", "WEIGHTS", "LICENCE", "FAMILY"]
    assert [r.split()[0] for r in rows if r.strip()][:2] == ["geoclip", "geoclip-bf16"]
    assert not any(r.startswith("xyz") for r in rows)
    assert main(["models", "--json", "--untrained", "xyz", "geoclip"]) == 0
    rows = json.loads(capsys.readouterr().out)["location_encoders"]
    assert [r["name"] for r in rows] == ["xyz"]
    assert rows[0]["card"]["embedding_dim"] == 3 and rows[0]["weights_status"] == "no weights"


def test_models_command_reports_cached_weights(capsys):
    from geoembed_geoclip.weights import LOCATION_ENCODER_MP16
    from geoembed.weights import package_file_path

    source = package_file_path(LOCATION_ENCODER_MP16)
    if source is None:
        pytest.skip("the geoclip wheel is not installed")
    target = cached_weights_path(LOCATION_ENCODER_MP16)
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)
    assert main(["models", "--short", "geoclip"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == ["geoclip", "512", "cached"]


def test_models_command_unknown_pattern_is_a_clear_error(capsys):
    assert main(["models", "no_such_encoder*"]) == 2
    assert "No location encoder matches" in capsys.readouterr().err


def test_models_command_lists_a_broken_plugin_without_failing(plugin_dir, capsys):  # noqa: F811
    make_distribution(plugin_dir, "geoembed-broken", "fakeplugin_broken", "raise ImportError('needs libfoo 9')\n",
                      {"geoembed.location_encoders": {"broken_enc": "fakeplugin_broken:make"}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # reported in the output, not as a warning
        assert main(["models", "broken_enc", "latlon"]) == 0
    out = capsys.readouterr().out
    assert "BROKEN" in out and "needs libfoo 9" in out and "1 failing to load" in out


def test_benchmark_expands_encoder_wildcards():
    from geoembed.downstream.benchmark import resolve_config
    from geoembed.errors import UnknownPluginError

    config = resolve_config(tasks=["elevation"], encoders=["geoclip*", "xyz", "geoclip"], quick=True)
    assert config.encoders == ["geoclip", "geoclip-bf16", "geoclip-concept", "geoclip-random", "xyz"]
    with pytest.raises(UnknownPluginError, match="nope"):
        resolve_config(tasks=["elevation"], encoders=["nope*"])


def test_every_encoder_refuses_bad_coordinates_the_same_way():
    """One contract: coordinates are validated once, before any encoder runs, so every encoder (built in or from a
    plugin, pretrained or not) refuses the same bad input with the same message."""
    from geoembed.errors import PluginLoadError, WeightsNotFoundError

    messages = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        for name in geoembed.list_location_encoders():
            try:
                try:
                    model = geoembed.create_location_encoder(name, pretrained=False)
                except TypeError:  # a factory without a pretrained option
                    model = geoembed.create_location_encoder(name)
            except (PluginLoadError, WeightsNotFoundError):
                continue  # broken or not buildable offline: other tests cover those
            for lat, lon in ((91.0, 0.0), (0.0, 181.0), (float("nan"), 0.0)):
                with pytest.raises(ValueError) as info:
                    geoembed.encode_location(lat=[10.0, lat], lon=[20.0, lon], encoder=model)
                messages.setdefault((lat, lon), {})[name] = str(info.value)
    assert {"geoclip", "latlon", "xyz"} <= set(messages[(91.0, 0.0)])
    for bad, by_encoder in messages.items():
        assert len(set(by_encoder.values())) == 1, (bad, by_encoder)
