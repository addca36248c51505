"""Fuzz ``geoembed.encode_location`` with generated hostile input, and check one invariant on every case.

The invariant: each call either raises a documented geoembed error (:class:`geoembed.errors.GeoembedError`: here
:class:`~geoembed.errors.InvalidCoordinatesError` or :class:`~geoembed.errors.InvalidGeometryError`), or returns a
finite float32 ``(N, embedding_dim)`` array equal, within :data:`geoembed.testing.ACROSS_BATCH_RTOL` /
``ACROSS_BATCH_ATOL``, to encoding each point on its own. An independent oracle also says, for most kinds of case,
which of the two must happen (valid degrees in range: output; anything else: an error), so a silently accepted bad
value fails as surely as a crash.

    python scripts/fuzz_encode.py --cases 10000                 # cheap encoders (xyz, latlon, rff, sphere_harmonics)
    python scripts/fuzz_encode.py --cases 300 --encoder geoclip  # the pretrained reference model

It prints a table of outcomes by kind of case and exits 1 if any case broke the invariant (with up to 10 examples).
``tests/test_property_encode.py`` runs the same cases with a small budget in CI.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CHEAP_ENCODERS = ("xyz", "latlon", "rff", "sphere_harmonics")


@dataclass
class Case:
    """One generated call: its keyword arguments and what the oracle expects of it."""

    kind: str
    kwargs: dict
    expect: str  # "ok", "error" or "either" (no independent oracle; the invariant still applies)
    latlon: np.ndarray | None = None  # the float64 [lat, lon] the oracle expects to be encoded, when it knows them
    note: str = ""
    extra: dict = field(default_factory=dict)


# -- generation (hypothesis strategies) -------------------------------------------------------------------------------
def cases():
    """A hypothesis strategy of :class:`Case` objects covering every input path of ``as_latlon``."""
    from hypothesis import strategies as st

    any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
    edge = st.sampled_from([0.0, -0.0, 90.0, -90.0, 180.0, -180.0, 90.0000000001, -180.0000001, 1e-300, 5e-324,
                            89.99999999999999, 179.99999999999997, 360.0, 1e10, -1e308])
    lat_value = st.one_of(st.floats(-90, 90), edge, any_float)
    lon_value = st.one_of(st.floats(-180, 180), edge, any_float)
    sizes = st.integers(1, 6)

    def pair(draw, n):
        """``n`` latitudes and longitudes: half the time all in range, else mixed with edges and wild values."""
        if draw(st.booleans()):
            return (draw(st.lists(st.floats(-90, 90), min_size=n, max_size=n)),
                    draw(st.lists(st.floats(-180, 180), min_size=n, max_size=n)))
        return (draw(st.lists(lat_value, min_size=n, max_size=n)),
                draw(st.lists(lon_value, min_size=n, max_size=n)))

    @st.composite
    def floats_case(draw):
        n = draw(sizes)
        lat, lon = pair(draw, n)
        container = draw(st.sampled_from(["list", "float64", "float32", "torch32", "torch64", "bfloat16",
                                          "float16", "series", "scalar", "int"]))
        if container == "scalar":
            lat, lon = lat[:1], lon[:1]
        if container == "int":  # whole degrees, including integers far too large for a float
            lat = [draw(st.one_of(st.integers(-90, 90), st.integers(-10**400, 10**400))) for _ in lat]
            lon = [draw(st.one_of(st.integers(-180, 180), st.integers(-10**400, 10**400))) for _ in lon]
        lat_in, lat_f = _container(lat, container)
        lon_in, lon_f = _container(lon, container)
        return _numeric_case(f"floats/{container}", {"lat": lat_in, "lon": lon_in}, lat_f, lon_f)

    @st.composite
    def points_case(draw):
        n = draw(sizes)
        lat, lon = pair(draw, n)
        order = draw(st.sampled_from(["latlon", "lonlat", None, "bogus"]))
        cols = np.column_stack([lat, lon]) if order != "lonlat" else np.column_stack([lon, lat])
        case = _numeric_case("points", {"points": cols, "order": order}, np.asarray(lat, float),
                             np.asarray(lon, float))
        if order not in ("latlon", "lonlat"):
            case.expect, case.latlon = "error", None
        return case

    @st.composite
    def order_case(draw):
        lat, lon = draw(st.floats(-90, 90)), draw(st.floats(-180, 180))
        order = draw(st.sampled_from([None, "latlon", "lonlat", "LATLON", "bogus", "", 1]))
        ok = order in (None, "latlon")
        return Case("order", {"lat": [lat], "lon": [lon], "order": order}, "ok" if ok else "error",
                    np.array([[lat, lon]]) if ok else None)

    @st.composite
    def bad_type_case(draw):
        import torch

        n = draw(sizes)
        what = draw(st.sampled_from(["bool", "complex", "text", "datetime", "timedelta", "masked", "meta",
                                     "torch_bool", "torch_complex", "object_text", "bool_mixed", "lengths", "empty", "2d",
                                     "missing_lon", "both"]))
        good = [float(i) for i in range(n)]
        lat: Any = good
        extra: dict = {}
        if what == "bool":
            lat = [bool(i % 2) for i in range(n)]
        elif what == "complex":
            lat = np.array(good) + 1j
        elif what == "text":
            lat = [str(v) for v in good]
        elif what == "datetime":
            lat = np.arange(n).astype("datetime64[D]")
        elif what == "timedelta":
            lat = np.arange(n).astype("timedelta64[s]")
        elif what == "masked":
            mask = [False] * n
            mask[draw(st.integers(0, n - 1))] = True
            lat = np.ma.array(good, mask=mask)
        elif what == "meta":
            lat = torch.zeros(n, device="meta")
        elif what == "torch_bool":
            lat = torch.zeros(n, dtype=torch.bool)
        elif what == "torch_complex":
            lat = torch.zeros(n, dtype=torch.complex64)
        elif what == "object_text":
            lat = np.array(good[:-1] + ["1.5"], dtype=object)
        elif what == "bool_mixed":
            lat = good[:-1] + [True]
        elif what == "lengths":
            lat = good + [0.0]
        elif what == "empty":
            lat, good = [], []
        elif what == "2d":
            lat = np.zeros((n, 2))
        elif what == "missing_lon":
            return Case(f"bad_type/{what}", {"lat": good}, "error")
        elif what == "both":
            return Case(f"bad_type/{what}", {"points": np.zeros((n, 2)), "lat": good, "order": "latlon"}, "error")
        return Case(f"bad_type/{what}", {"lat": lat, "lon": good, **extra}, "error")

    @st.composite
    def series_case(draw):
        import pandas as pd

        n = draw(sizes)
        lat = draw(st.lists(st.floats(-90, 90), min_size=n, max_size=n))
        lon = draw(st.lists(st.floats(-180, 180), min_size=n, max_size=n))
        index = draw(st.permutations(list(range(n))))
        other = draw(st.one_of(st.just(index), st.permutations(list(range(n)))))
        same = list(index) == list(other)
        return Case("series", {"lat": pd.Series(lat, index=index), "lon": pd.Series(lon, index=other)},
                    "ok" if same else "error", np.column_stack([lat, lon]) if same else None)

    @st.composite
    def geometry_case(draw):
        import geopandas
        import shapely

        n = draw(sizes)
        crs = draw(st.sampled_from(["EPSG:4326", "EPSG:3857", "EPSG:32631", "EPSG:2154", "EPSG:3035"]))
        scale = {"EPSG:4326": 200.0}.get(crs, 4e7)
        if draw(st.booleans()):  # places on Earth, projected: must be accepted where the CRS is defined
            lon = draw(st.lists(st.floats(-180, 180), min_size=n, max_size=n))
            lat = draw(st.lists(st.floats(-85, 85), min_size=n, max_size=n))
            projected = geopandas.GeoSeries(geopandas.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(crs)
            xs, ys = list(projected.x), list(projected.y)
        else:
            xs = draw(st.lists(st.one_of(st.floats(-scale, scale), st.floats(-1e12, 1e12)), min_size=n, max_size=n))
            ys = draw(st.lists(st.one_of(st.floats(-scale, scale), st.floats(-1e12, 1e12)), min_size=n, max_size=n))
        order = draw(st.sampled_from([None, None, "lonlat", "latlon"]))
        geoms = [shapely.Point(x, y) if np.isfinite([x, y]).all() else shapely.Point() for x, y in zip(xs, ys)]
        broken = draw(st.sampled_from([None, None, None, "none", "line", "empty", "no_crs"]))
        expect = "error" if order == "latlon" or broken else "either"
        if broken == "none":
            geoms[0] = None
        elif broken == "line":
            geoms[0] = shapely.LineString([(0, 0), (1, 1)])
        elif broken == "empty":
            geoms[0] = shapely.Point()
        points = geopandas.GeoSeries(geoms, crs=None if broken == "no_crs" else crs)
        return Case(f"geometry/{crs}/{broken or 'points'}", {"points": points, "order": order}, expect,
                    extra={"crs": crs, "xy": np.column_stack([xs, ys])})

    return st.one_of(floats_case(), points_case(), order_case(), bad_type_case(), series_case(), geometry_case())


def _container(values: list, container: str) -> tuple[Any, np.ndarray]:
    """The values in the chosen container, and the float64 values geoembed should read from it (NaN: unreadable)."""
    import pandas as pd
    import torch

    if container in ("list", "scalar", "int"):
        exact = np.array([_as_float(v) for v in values])
        return (values[0] if container == "scalar" else values), exact
    if container in ("float64", "float32"):
        with np.errstate(over="ignore"):
            arr = np.asarray(values, dtype=container)
        return arr, arr.astype(np.float64)
    if container == "series":
        return pd.Series(values, dtype="float64"), np.asarray(values, dtype=np.float64)
    dtype = {"torch32": torch.float32, "torch64": torch.float64, "bfloat16": torch.bfloat16,
             "float16": torch.float16}[container]
    tensor = torch.tensor(values, dtype=dtype)
    return tensor, tensor.double().numpy()


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf")  # too large for a float: never a valid coordinate


def _numeric_case(kind: str, kwargs: dict, lat: np.ndarray, lon: np.ndarray) -> Case:
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    ok = bool(np.isfinite(lat).all() and np.isfinite(lon).all() and (np.abs(lat) <= 90).all()
              and (np.abs(lon) <= 180).all())
    return Case(kind, kwargs, "ok" if ok else "error", np.column_stack([lat, lon]) if ok else None)


# -- the invariant ------------------------------------------------------------------------------------------------------
class InvariantBroken(AssertionError):
    """A case whose outcome breaks the invariant."""


def run_case(case: Case, encoder: str, batch_size: int) -> str:
    """Run one case; return its outcome (``"ok"`` or the geoembed error's name), or raise :class:`InvariantBroken`."""
    import geoembed
    from geoembed.errors import GeoembedError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. pyproj on absurd inputs; outcomes are what is checked
            out = geoembed.encode_location(**case.kwargs, encoder=encoder, batch_size=batch_size)
    except GeoembedError as exc:
        if case.expect == "ok":
            raise InvariantBroken(f"{case.kind}: valid input refused: {type(exc).__name__}: {exc}") from None
        if not str(exc).strip():
            raise InvariantBroken(f"{case.kind}: {type(exc).__name__} with an empty message") from None
        return type(exc).__name__
    except Exception as exc:
        raise InvariantBroken(f"{case.kind}: undocumented {type(exc).__name__}: {exc}") from exc
    if case.expect == "error":
        raise InvariantBroken(f"{case.kind}: invalid input accepted ({case.note or case.kwargs!r:.300})")

    latlon = case.latlon
    if latlon is None:  # geometries: no oracle for the place, so check what was encoded lies where the CRS says
        latlon = _check_geometry_result(case)
    n = len(latlon)
    if not (isinstance(out, np.ndarray) and out.dtype == np.float32 and out.ndim == 2 and out.shape[0] == n):
        raise InvariantBroken(f"{case.kind}: output {type(out).__name__} {getattr(out, 'shape', None)} for {n} points")
    if not np.isfinite(out).all():
        raise InvariantBroken(f"{case.kind}: non-finite output")
    for i in range(n):
        alone = geoembed.encode_location(lat=[latlon[i, 0]], lon=[latlon[i, 1]], encoder=encoder)
        if not embeddings_close(out[i : i + 1], alone):
            worst = float(np.abs(out[i] - alone[0]).max())
            raise InvariantBroken(f"{case.kind}: row {i} differs from encoding it alone by {worst:.3g} "
                                  f"(lat={latlon[i, 0]!r}, lon={latlon[i, 1]!r})")
    return "ok"


def embeddings_close(actual: np.ndarray, expected: np.ndarray) -> bool:
    """Whether two embedding arrays agree within geoembed's documented across-batch tolerance.

    Uses ``geoembed.testing.assert_embeddings_close`` where this version of geoembed has it, else an element-wise
    comparison with ``ACROSS_BATCH_RTOL`` / ``ACROSS_BATCH_ATOL``.
    """
    from geoembed import testing

    if hasattr(testing, "assert_embeddings_close"):
        try:
            testing.assert_embeddings_close(actual, expected)
        except AssertionError:
            return False
        return True
    return bool(np.allclose(actual, expected, rtol=testing.ACROSS_BATCH_RTOL, atol=testing.ACROSS_BATCH_ATOL))


def _check_geometry_result(case: Case) -> np.ndarray:
    """The [lat, lon] geoembed read from geometries, checked to project back onto the input coordinates."""
    import pyproj

    from geoembed.coords import as_latlon

    latlon = as_latlon(case.kwargs["points"], order=case.kwargs.get("order"))
    xy = case.extra["xy"]
    if case.extra["crs"] == "EPSG:4326":
        back = np.column_stack([latlon[:, 1], latlon[:, 0]])
    else:
        to_crs = pyproj.Transformer.from_crs("EPSG:4326", case.extra["crs"], always_xy=True)
        back = np.column_stack(to_crs.transform(latlon[:, 1], latlon[:, 0]))
    if not np.allclose(back, xy, rtol=1e-7, atol=1e-3):
        worst = float(np.abs(back - xy).max())
        raise InvariantBroken(f"{case.kind}: accepted points do not project back onto the input (off by {worst:.3g})")
    return latlon


# -- the long run ---------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="number of generated cases (default: 10000)")
    parser.add_argument("--encoder", action="append", help=f"encoder(s) to use (default: {', '.join(CHEAP_ENCODERS)})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator (default: 0)")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")

    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st
    from tqdm import tqdm

    encoders = args.encoder or list(CHEAP_ENCODERS)
    outcomes: collections.Counter = collections.Counter()
    failures: list[str] = []
    bar = tqdm(total=args.cases, unit="case", desc="fuzzing encode_location")

    @seed(args.seed)
    @settings(max_examples=args.cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=cases(), encoder=st.sampled_from(encoders), batch_size=st.integers(1, 7))
    def fuzz(case: Case, encoder: str, batch_size: int) -> None:
        try:
            outcome = run_case(case, encoder, batch_size)
        except InvariantBroken as exc:
            outcome = "BROKEN"
            if len(failures) < 10:
                failures.append(str(exc))
        outcomes[(case.kind.split("/")[0], case.kind, outcome)] += 1
        bar.update(1)

    started = time.perf_counter()
    fuzz()
    bar.close()
    elapsed = time.perf_counter() - started
    total = sum(outcomes.values())
    print(f"\n{total} cases in {elapsed:.0f} s with encoders {', '.join(encoders)} (seed {args.seed})\n")
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for (group, _kind, outcome), count in outcomes.items():
        by_kind[group][outcome] += count
    names = sorted({o for c in by_kind.values() for o in c}, key=lambda o: (o == "BROKEN", o != "ok", o))
    print(f"{'kind':<12}" + "".join(f"{n:>26}" for n in names))
    for group in sorted(by_kind):
        print(f"{group:<12}" + "".join(f"{by_kind[group][n]:>26}" for n in names))
    print(f"{'all':<12}" + "".join(f"{sum(c[n] for c in by_kind.values()):>26}" for n in names))
    broken = sum(c["BROKEN"] for c in by_kind.values())
    if broken:
        print(f"\n{broken} case(s) broke the invariant; first {len(failures)}:")
        for line in failures:
            print("  -", line[:500])
        return 1
    print("\nEvery case either raised a geoembed error or matched encoding its points one at a time.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
