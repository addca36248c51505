"""What the plugin registers besides the encoders: its entry points load, the ``geoclip`` text encoder, the
``geoclip-random`` baseline, the ``geodata.geoclip`` bank, and the ``train``/``evaluate`` subcommands of the CLI."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch

import geoembed
import geoembed.errors
from geoembed import registry
from geoembed.cli import main
from geoembed.concepts.bank import ConceptBank, load_concept_bank
from geoembed_geoclip import text_encoder as te
from geoembed_geoclip.weights import IMAGE_HEAD_MP16

# A tiny random CLIP (architecture overrides of ViT-B-32; 768-d like ViT-L/14 so GeoCLIP's head accepts it).
TINY_CLIP = dict(
    embed_dim=768,
    vision_cfg=dict(image_size=32, layers=1, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=1),
)


def test_every_declared_entry_point_loads_and_keeps_its_contract(declared):
    assert set(declared) == {"geoembed.location_encoders", "geoembed.image_backbones", "geoembed.text_encoders",
                             "geoembed.concept_banks", "geoembed.commands", "geoembed.galleries",
                             "geoembed.concept_projections"}
    for group, names in declared.items():
        reg = registry.REGISTRIES[group]
        for name, target in names.items():
            spec = reg.spec(name)
            assert spec.target == target and spec.distribution in ("geoembed-geoclip", "<unknown distribution>")
            loaded = spec.load()  # raises PluginLoadError when the target is wrong or breaks its contract
            module, _, attr = target.partition(":")
            assert loaded is (getattr(importlib.import_module(module), attr) if attr else
                              importlib.import_module(module))


# -- geoclip-random ------------------------------------------------------------------------------------------------------
def test_geoclip_random_differs_from_pretrained_and_is_reproducible():
    random_a = geoembed.create_location_encoder("geoclip-random")
    random_b = geoembed.create_location_encoder("geoclip-random")
    pretrained = geoembed.create_location_encoder("geoclip")
    assert random_a.weights is None and pretrained.weights is not None
    assert random_a.identity == random_b.identity != pretrained.identity
    assert geoembed.create_location_encoder("geoclip-random", seed=1).identity != random_a.identity
    emb = geoembed.encode_location([[48.85, 2.35], [-33.9, 151.2]], order="latlon", encoder="geoclip-random")
    assert emb.shape == (2, 512) and np.isfinite(emb).all()
    assert "geoclip-random" in geoembed.list_location_encoders(pretrained=False)


# -- the geoclip text encoder -------------------------------------------------------------------------------------------
def test_geoclip_text_encoder_maps_texts_through_the_real_head():
    encoder = geoembed.create_text_encoder("geoclip", clip_model="ViT-B-32", clip_pretrained=None, **TINY_CLIP)
    assert isinstance(encoder, te.GeoCLIPTextEncoder)
    assert encoder.embedding_dim == 512 and encoder.default_prompt == "{}"
    assert encoder.backbone.head_weights.sha256 == IMAGE_HEAD_MP16.sha256  # GeoCLIP's published head, from the wheel
    vectors = encoder.encode(["desert", "snow"])
    clip = encoder.backbone.clip.encode_text(["desert", "snow"]).float()
    expected = torch.nn.functional.normalize(encoder.backbone.head(clip), dim=1)
    np.testing.assert_allclose(vectors, expected.detach().numpy(), atol=1e-5)
    # a random CLIP tower does not land in GeoCLIP's space: its bank is refused for places
    assert encoder.space.startswith("text:geoclip-head/ViT-B-32/random-")
    bank = ConceptBank.from_texts(["desert", "snow"], text_encoder=encoder)
    with pytest.raises(geoembed.errors.ConceptBankError, match="mean nothing"):
        geoembed.explain_location(lat=25.0, lon=10.0, bank=bank)


def test_geoclip_text_space_only_for_the_published_parts():
    assert te.geoclip_text_space("ViT-L-14", "openai", IMAGE_HEAD_MP16, "id") == "location:geoclip.mp16"
    assert te.geoclip_text_space("ViT-L-14", "openai", IMAGE_HEAD_MP16, "id", customised=True) != "location:geoclip.mp16"
    assert te.geoclip_text_space("ViT-L-14", "openai", None, "id") != "location:geoclip.mp16"
    assert te.geoclip_text_space("ViT-B-32", "openai", IMAGE_HEAD_MP16, "id") == "text:geoclip-head/ViT-B-32/openai"


# -- the geodata.geoclip bank -------------------------------------------------------------------------------------------
def test_shipped_geodata_bank_loads():
    assert "geodata.geoclip" in geoembed.list_concept_banks()
    bank = load_concept_bank("geodata.geoclip")
    assert bank.space == "location:geoclip.mp16" and bank.dim == 512 and bank.scoring == "linear"
    for concept in ("tropical climate", "arid climate", "polar climate", "coastal", "high altitude", "cropland"):
        assert concept in bank
    assert all(d for d in bank.descriptions)  # each concept says how its labels were made
    assert bank.provenance["built_from"] == "geodata"


def test_geodata_bank_scores_real_places_sensibly():
    """Pretrained GeoCLIP puts the Sahara in the arid climate and Greenland's ice sheet in the polar one."""
    bank = load_concept_bank("geodata.geoclip")
    places = geoembed.encode_location([[23.0, 12.0], [75.0, -40.0]], order="latlon", encoder="geoclip")
    scores = bank.score(places, space="location:geoclip.mp16")
    arid, polar = bank.names.index("arid climate"), bank.names.index("polar climate")
    assert scores[0, arid] > scores[0, polar] and scores[1, polar] > scores[1, arid]


# -- the train and evaluate subcommands ---------------------------------------------------------------------------------
def test_geoembed_help_lists_the_plugin_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "train (concept-aware) GeoCLIP" in out and "geodesic accuracy (1/25/200/750/2500 km)" in out
    assert "evaluate-photos" in out  # the core's own commands are still there


def test_geoembed_help_loads_the_plugin_commands_without_torch():
    """The package imports its models lazily, so listing the commands stays fast (torch alone takes about a second)."""
    import subprocess
    import sys

    code = ("import sys\nfrom geoembed.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('geoembed_geoclip.commands.train' in sys.modules, 'torch' in sys.modules, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "train (concept-aware) GeoCLIP" in result.stdout
    assert result.stderr.split() == ["True", "False"]


def test_the_package_names_load_on_first_use_with_their_cards():
    import geoembed_geoclip

    assert geoembed_geoclip.geoclip_location_encoder.card is geoembed_geoclip.GEOCLIP_CARD
    assert geoembed_geoclip.geoclip_random.card.family == "GeoCLIP (random weights)"
    assert geoembed_geoclip.geoclip_bfloat16_location_encoder.card.hyperparameters["precision"] == "bfloat16"
    assert set(geoembed_geoclip.__all__) <= set(dir(geoembed_geoclip))
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        geoembed_geoclip.nonsense  # noqa: B018


def test_train_help_keeps_its_flags(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for flag in ("--no-concepts", "--bank", "--divergence-weight", "--random-location-weights", "--resume"):
        assert flag in out
    assert "example: geoembed train feats.npy coords.npy" in out


def test_plugins_report_lists_the_commands(capsys):
    assert main(["plugins", "--kind", "command", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kinds"] == ["geoembed.commands"]
    rows = {p["name"]: p for p in report["plugins"]}
    assert {"train", "evaluate"} <= set(rows)
    assert rows["train"]["status"] == "ok" and rows["train"]["target"] == "geoembed_geoclip.commands.train"


def test_train_reports_bad_input_as_one_line(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.zeros((4, 8), dtype=np.float32))
    np.save(tmp_path / "c.npy", np.zeros((3, 2)))
    code = main(["train", str(tmp_path / "f.npy"), str(tmp_path / "c.npy"), "-o", str(tmp_path / "run"),
                 "--no-concepts", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("geoembed train: error:") and "Traceback" not in err
