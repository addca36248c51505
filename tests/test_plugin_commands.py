"""CLI subcommands from plugins: the ``geoembed.commands`` entry-point group, discovered by :mod:`geoembed.cli`.

Throwaway distributions on ``sys.path`` play the plugins, so these tests need no real plugin installed.
"""

from __future__ import annotations

import json
import warnings

import pytest

from geoembed import registry
from geoembed.cli import main
from geoembed.errors import PluginWarning, UnknownPluginError

from test_registry import make_distribution, plugin_dir  # noqa: F401  (plugin_dir is a fixture)

HELLO = """
    name = "hello"
    help = "greet a place"
    description = "Print a greeting for PLACE."
    epilog = "example: geoembed hello Paris"

    def add_arguments(parser):
        parser.add_argument("place", metavar="PLACE")
        parser.add_argument("--times", type=int, default=1)

    def run(args):
        for _ in range(args.times):
            print(f"hello {args.place}")
        return 0
"""


@pytest.fixture
def hello(plugin_dir):  # noqa: F811
    make_distribution(plugin_dir, "geoembed-hello", "fakeplugin_hello", HELLO,
                      {"geoembed.commands": {"hello": "fakeplugin_hello"}})
    registry.refresh_plugins()
    return plugin_dir


def test_a_plugin_command_is_listed_and_runs(hello, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "hello" in out and "greet a place" in out and "encode" in out
    with pytest.raises(SystemExit):
        main(["hello", "--help"])
    out = capsys.readouterr().out
    assert "Print a greeting for PLACE." in out and "--times" in out and "example: geoembed hello Paris" in out
    assert main(["hello", "Paris", "--times", "2"]) == 0
    assert capsys.readouterr().out == "hello Paris\nhello Paris\n"
    assert "hello" in registry.list_commands()


def test_plugins_lists_commands(hello, capsys):
    assert main(["plugins", "--kind", "commands", "--json"]) == 0
    row = next(p for p in json.loads(capsys.readouterr().out)["plugins"] if p["name"] == "hello")
    assert row["kind"] == "command" and row["distribution"] == "geoembed-hello" and row["status"] == "ok"


def test_running_a_core_command_does_not_import_plugin_commands(hello, capsys):
    import sys

    assert main(["plugins", "--kind", "location_encoder"]) == 0
    assert "fakeplugin_hello" not in sys.modules


@pytest.mark.parametrize("source, expected", [
    ("raise RuntimeError('no GPU driver')\n", "RuntimeError: no GPU driver"),
    ("name = 'broken'\nhelp = 'x'\ndef add_arguments(parser): pass\n", "without run"),
    ("name = 'other'\nhelp = 'x'\ndef add_arguments(parser): pass\ndef run(args): return 0\n", "calls itself 'other'"),
    ("name = 'broken'\nhelp = 'x'\ndef add_arguments(parser):\n    parser.add_argument('--x')\n"
     "    parser.add_argument('--x')\ndef run(args): return 0\n", "failed to set up its arguments"),
])
def test_a_broken_command_is_reported_and_the_rest_keeps_working(plugin_dir, capsys, source, expected):  # noqa: F811
    make_distribution(plugin_dir, "geoembed-broken", "fakeplugin_broken", source,
                      {"geoembed.commands": {"broken": "fakeplugin_broken"}})
    registry.refresh_plugins()
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "BROKEN plugin command" in capsys.readouterr().out
    assert main(["broken", "--some", "flags"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("geoembed broken: error: ") and expected in err and "Traceback" not in err
    assert "geoembed-broken" in err or "Reinstall" in err
    assert main(["plugins", "--kind", "command"]) == 0  # the report still runs, and names the broken one
    assert "BROKEN" in capsys.readouterr().out
    assert main(["plugins", "--kind", "location_encoder"]) == 0  # other commands are untouched


def test_a_plugin_cannot_replace_a_core_command(plugin_dir, capsys):  # noqa: F811
    make_distribution(plugin_dir, "geoembed-hijack", "fakeplugin_hijack",
                      HELLO.replace('name = "hello"', 'name = "plugins"'),
                      {"geoembed.commands": {"plugins": "fakeplugin_hijack"}})
    registry.refresh_plugins()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        assert main(["plugins", "--kind", "command"]) == 0
    assert "geoembed's own 'plugins' command has that name" in " ".join(str(w.message) for w in caught)
    assert "KIND" in capsys.readouterr().out  # the core's command ran


def test_a_missing_reference_plugin_is_named_with_its_install_command(monkeypatch, capsys):
    """Without the GeoCLIP plugin, ``geoembed train`` and ``create_location_encoder("geoclip")`` say what to install."""
    monkeypatch.setattr(registry, "_entry_points", lambda group: [])
    monkeypatch.setattr(registry.importlib_metadata, "distribution",
                        lambda name: (_ for _ in ()).throw(registry.importlib_metadata.PackageNotFoundError(name)))
    registry.refresh_plugins()
    try:
        assert main(["train", "feats.npy", "coords.npy", "-o", "run"]) == 2
        err = capsys.readouterr().err
        assert "'geoembed-geoclip'" in err and "pip install -e plugins/geoembed_geoclip" in err
        with pytest.raises(UnknownPluginError, match="pip install -e plugins/geoembed_geoclip"):
            registry.create_location_encoder("geoclip")
        with pytest.raises(UnknownPluginError) as info:
            registry.create_location_encoder("no-such-encoder")
        assert "geoembed-geoclip" not in str(info.value)
    finally:
        monkeypatch.undo()
        registry.refresh_plugins()


# -- options passed to a plugin's image backbone by geolocate / evaluate-photos -------------------------------------------
def test_model_options_reach_the_factory_as_keywords():
    import argparse

    from geoembed.commands import _geolocation_options as options

    parser = argparse.ArgumentParser()
    options.add_model_options(parser)
    args = parser.parse_args(["--model-option", "clip_model=ViT-B-32", "--model-option", "embed_dim=768",
                              "--model-option", "clip_pretrained=None", "--clip-weights", "openai"])
    with pytest.raises(Exception, match="--clip-weights openai and --model-option clip_pretrained=None disagree"):
        options.model_kwargs(args)
    args = parser.parse_args(["--model-option", "clip_model=ViT-B-32", "--model-option", "embed_dim=768",
                              "--clip-weights", "/data/clip.safetensors"])
    assert options.model_kwargs(args) == {"clip_model": "ViT-B-32", "embed_dim": 768,
                                          "clip_pretrained": "/data/clip.safetensors"}
    assert options.model_kwargs(parser.parse_args([])) == {}  # nothing given: the factory's defaults
    with pytest.raises(SystemExit):
        parser.parse_args(["--model-option", "no equals sign"])
