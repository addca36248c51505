"""The plugin registry: registration, lookup, wildcards, entry point discovery, conflicts and broken plugins."""

from __future__ import annotations

import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import geoembed
from geoembed import registry
from geoembed.errors import PluginLoadError, PluginWarning, UnknownPluginError
from geoembed.testing import check_location_encoder, check_plugin


@pytest.fixture
def clean_runtime():
    """Remove names that a test registers at run time."""
    before = {reg.group: set(reg._runtime) for reg in registry.REGISTRIES.values()}
    yield
    for reg in registry.REGISTRIES.values():
        for name in set(reg._runtime) - before[reg.group]:
            reg.unregister(name)


def make_distribution(root: Path, dist: str, module: str, source: str, entry_points: dict[str, dict[str, str]]) -> None:
    """Write a throwaway installed distribution: its module and a ``.dist-info`` with metadata and entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = []
    for group, names in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in names.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def plugin_dir(tmp_path):
    """A folder on sys.path for throwaway distributions; discovery is refreshed before and after."""
    sys.path.insert(0, str(tmp_path))
    registry.refresh_plugins()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("fakeplugin_")]:
        del sys.modules[name]
    registry.refresh_plugins()


GOOD_PLUGIN = """
    import torch
    from geoembed import LocationEncoder

    class UnitVectorEncoder(LocationEncoder):
        embedding_dim = 3

        def forward(self, latlon):
            lat, lon = torch.deg2rad(latlon[:, 0]), torch.deg2rad(latlon[:, 1])
            return torch.stack([lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()], dim=1)

    def make_encoder(**kwargs):
        return UnitVectorEncoder()
"""


# -- registration at run time --------------------------------------------------------------------------------------
def test_register_create_and_list_with_wildcards(clean_runtime):
    @geoembed.register_location_encoder("toy.a")
    def toy_a(scale: float = 1.0):
        return ("toy-a", scale)

    geoembed.register_location_encoder("toy.b", lambda: "toy-b")
    assert geoembed.create_location_encoder("toy.a", scale=2.0) == ("toy-a", 2.0)
    assert geoembed.list_location_encoders("toy.*") == ["toy.a", "toy.b"]
    assert "geoclip" in geoembed.list_location_encoders()
    assert geoembed.list_location_encoders("TOY.A") == ["toy.a"]  # case-insensitive patterns
    assert toy_a.__name__ == "toy_a"  # the decorator returns the function unchanged


def test_registering_an_existing_name_needs_overwrite(clean_runtime):
    geoembed.register_image_backbone("dup", lambda: 1)
    with pytest.raises(ValueError, match="already registered.*overwrite=True"):
        geoembed.register_image_backbone("dup", lambda: 2)
    geoembed.register_image_backbone("dup", lambda: 3, overwrite=True)
    assert geoembed.create_image_backbone("dup") == 3


def test_cannot_shadow_builtin_by_accident(clean_runtime):
    with pytest.raises(ValueError, match="latlon.*already registered.*pygeoembed"):
        geoembed.register_location_encoder("latlon", lambda: None)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownPluginError, match="Did you mean 'geoclip'") as info:
        geoembed.create_location_encoder("geoclp")
    assert isinstance(info.value, KeyError)  # still catchable as a KeyError
    assert "list_location_encoders()" in str(info.value)


@pytest.mark.parametrize("bad", ["", "has space", "-lead", None, 3])
def test_invalid_names_are_refused(bad, clean_runtime):
    with pytest.raises(ValueError, match="Invalid location encoder name"):
        geoembed.register_location_encoder(bad, lambda: None)


def test_non_callable_factory_is_refused_but_concept_bank_objects_are_wrapped(clean_runtime):
    with pytest.raises(TypeError, match="needs a callable"):
        geoembed.register_location_encoder("obj", object())
    bank = {"names": ["desert"]}  # any ready-made object stands in for a bank here
    geoembed.register_concept_bank("ready_bank", bank)
    assert geoembed.create_concept_bank("ready_bank") is bank


# -- entry point plugins -------------------------------------------------------------------------------------------
def test_builtin_latlon_comes_from_an_entry_point():
    spec = registry.location_encoders.spec("latlon")
    assert spec.origin == registry.BUILTIN
    assert spec.distribution == "pygeoembed"
    assert spec.target == "geoembed.location_encoders.baselines:latlon"


def test_reference_plugin_is_a_third_party_distribution():
    spec = registry.location_encoders.spec("geoclip")
    assert spec.origin == registry.THIRD_PARTY
    assert spec.distribution == "geoembed-geoclip"
    assert spec.target == "geoembed_geoclip:geoclip_location_encoder"


def test_throwaway_plugin_distribution_is_discovered_and_used(plugin_dir):
    make_distribution(
        plugin_dir, "geoembed-fake", "fakeplugin_good", GOOD_PLUGIN,
        {"geoembed.location_encoders": {"unit_vector": "fakeplugin_good:make_encoder"}},
    )
    registry.refresh_plugins()
    assert "unit_vector" in geoembed.list_location_encoders()
    assert "fakeplugin_good" not in sys.modules  # listing reads metadata only; the plugin's code is not imported
    spec = registry.location_encoders.spec("unit_vector")
    assert (spec.origin, spec.distribution) == (registry.THIRD_PARTY, "geoembed-fake")

    emb = geoembed.encode_location(lat=[0.0, 90.0], lon=[0.0, 0.0], encoder="unit_vector")
    np.testing.assert_allclose(emb, [[1, 0, 0], [0, 0, 1]], atol=1e-6)
    assert "encode_location" in check_plugin("location encoder", "unit_vector")


def test_plugin_discovery_is_cached_until_refresh(plugin_dir):
    geoembed.list_location_encoders()  # discovery happens now
    make_distribution(
        plugin_dir, "geoembed-late", "fakeplugin_late", GOOD_PLUGIN,
        {"geoembed.location_encoders": {"late_comer": "fakeplugin_late:make_encoder"}},
    )
    assert "late_comer" not in geoembed.list_location_encoders()
    geoembed.refresh_plugins()
    assert "late_comer" in geoembed.list_location_encoders()


def test_broken_plugin_only_warns_and_everything_else_works(plugin_dir):
    make_distribution(
        plugin_dir, "geoembed-broken", "fakeplugin_broken", "raise ImportError('needs libfoo 9')\n",
        {"geoembed.location_encoders": {"broken_enc": "fakeplugin_broken:make"}},
    )
    registry.refresh_plugins()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # listing must not even warn: nothing was imported
        assert "broken_enc" in geoembed.list_location_encoders()

    with pytest.warns(PluginWarning, match=r"broken_enc.*geoembed-broken.*needs libfoo 9"):
        report = geoembed.load_all_plugins()
    assert [s.name for s in report["broken"]] == ["broken_enc"]
    assert "geoclip" in [s.name for s in report["ok"]]

    with pytest.raises(PluginLoadError, match="geoembed-broken.*ImportError: needs libfoo 9"):
        geoembed.create_location_encoder("broken_enc")
    emb = geoembed.encode_location(lat=1.0, lon=2.0, encoder="geoclip", pretrained=False, seed=0)
    assert emb.shape == (1, 512)


def test_third_party_cannot_shadow_a_builtin(plugin_dir):
    make_distribution(
        plugin_dir, "geoembed-impostor", "fakeplugin_impostor", GOOD_PLUGIN,
        {"geoembed.location_encoders": {"latlon": "fakeplugin_impostor:make_encoder"}},
    )
    registry.refresh_plugins()
    with pytest.warns(PluginWarning, match="geoembed-impostor.*ignored.*built-in plugins cannot be shadowed"):
        spec = registry.location_encoders.spec("latlon")
    assert spec.distribution == "pygeoembed"


def test_duplicate_third_party_names_resolve_deterministically(plugin_dir):
    for dist, module in [("zeta-plugin", "fakeplugin_zeta"), ("alpha-plugin", "fakeplugin_alpha")]:
        make_distribution(plugin_dir, dist, module, GOOD_PLUGIN,
                          {"geoembed.location_encoders": {"shared_name": f"{module}:make_encoder"}})
    registry.refresh_plugins()
    with pytest.warns(PluginWarning, match="alpha-plugin.*is used.*zeta-plugin.*ignored"):
        spec = registry.location_encoders.spec("shared_name")
    assert spec.distribution == "alpha-plugin"


def test_entry_point_that_is_not_callable_gives_a_clear_error(plugin_dir):
    make_distribution(
        plugin_dir, "geoembed-notcallable", "fakeplugin_value", "VALUE = 42\n",
        {"geoembed.location_encoders": {"not_callable": "fakeplugin_value:VALUE"}},
    )
    registry.refresh_plugins()
    with pytest.raises(PluginLoadError, match="not a callable factory"):
        geoembed.create_location_encoder("not_callable")


def test_conformance_check_catches_a_bad_encoder():
    import torch

    class ConstantEncoder(geoembed.LocationEncoder):
        embedding_dim = 4

        def forward(self, latlon):
            return torch.ones(latlon.shape[0], 4)

    with pytest.raises(AssertionError, match="distinguishes_places"):
        check_location_encoder(ConstantEncoder())

    class WrongWidth(geoembed.LocationEncoder):
        embedding_dim = 8

        def forward(self, latlon):
            return latlon.repeat(1, 2)

    with pytest.raises(AssertionError, match="output_shape"):
        check_location_encoder(WrongWidth())


def test_importing_geoembed_is_lazy():
    import subprocess

    code = (
        "import sys, geoembed; names = geoembed.list_location_encoders(); "
        "heavy = [m for m in ('torch', 'geopandas', 'geoembed_geoclip') if m in sys.modules]; "
        "print(names, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'geoclip'" in out and out.strip().endswith("[]")


def test_plugin_calling_sys_exit_at_import_is_isolated(plugin_dir):
    make_distribution(
        plugin_dir, "geoembed-quitter", "fakeplugin_quitter", "import sys\nsys.exit(3)\n",
        {"geoembed.location_encoders": {"quitter_enc": "fakeplugin_quitter:make"}},
    )
    registry.refresh_plugins()
    with pytest.warns(PluginWarning, match=r"quitter_enc.*geoembed-quitter.*SystemExit: 3"):
        report = geoembed.load_all_plugins()  # what `geoembed plugins` runs: it must survive and report
    assert "quitter_enc" in [s.name for s in report["broken"]]
    assert "geoclip" in [s.name for s in report["ok"]]
    with pytest.raises(PluginLoadError, match="geoembed-quitter.*SystemExit"):
        geoembed.encode_location(lat=1.0, lon=2.0, encoder="quitter_enc")


SHORT_ROWS_PLUGIN = """
    import torch
    from geoembed import LocationEncoder

    class ShortRows(LocationEncoder):
        embedding_dim = 3

        def forward(self, latlon):
            return torch.zeros(latlon.shape[0] - 1, 3)

    def make_encoder(**kwargs):
        return ShortRows()
"""


def test_plugin_output_errors_name_the_distribution(plugin_dir):
    from geoembed.errors import PluginOutputError

    make_distribution(
        plugin_dir, "geoembed-shortrows", "fakeplugin_shortrows", SHORT_ROWS_PLUGIN,
        {"geoembed.location_encoders": {"short_rows": "fakeplugin_shortrows:make_encoder"}},
    )
    registry.refresh_plugins()
    try:
        with pytest.raises(PluginOutputError, match=r"location encoder 'short_rows' \(from distribution "
                                                    r"'geoembed-shortrows'.*returned shape \(1, 3\)"):
            geoembed.encode_location(lat=[1.0, 2.0], lon=[2.0, 3.0], encoder="short_rows")
        # An instance built outside the registry is traced from its module to the distribution.
        model = registry.location_encoders.get("short_rows")()
        assert registry.location_encoders.origin(model) is None
        with pytest.raises(PluginOutputError, match=r"ShortRows from distribution 'geoembed-shortrows'"):
            geoembed.encode_location(lat=[1.0, 2.0], lon=[2.0, 3.0], encoder=model)
    finally:
        geoembed.registry.location_encoders.clear_cached()
