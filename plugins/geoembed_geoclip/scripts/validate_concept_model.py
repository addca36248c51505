"""Validate description-trained concept models on held-out spatial blocks: per-concept ROC AUC against ground-truth
maps, zero-shot AUC of held-out words, and the same for ablations. Writes JSON, a Markdown table and a chart.

    python plugins/geoembed_geoclip/scripts/validate_concept_model.py --data DATA/place_descriptions_v1 \
        --run full=runs/concept-geography --run no-bottleneck=runs/no-bottleneck \
        --run no-divergence=runs/no-divergence --run generic-bank=runs/generic \
        --out benchmarks/results/concept_model
    # shipped weights without their run folder (a folder with <bank>.safetensors and <bank>.json):
    python plugins/geoembed_geoclip/scripts/validate_concept_model.py --data DATA/place_descriptions_v1 \
        --weights shipped=plugins/geoembed_geoclip/geoembed_geoclip/data/concept_minilm --out DIR

Held-out places: rows whose ``split`` is ``val`` or ``test`` (whole spatial blocks never used in training); ``--splits``
picks one. ``--description-ceiling`` adds two reference rows: the same AUCs when each held-out place is scored by its
own description's MiniLM vector instead of a model's prediction.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="place-descriptions folder (default: <geoembed cache>/place_descriptions/v1)")
    p.add_argument("--run", action="append", default=[], metavar="NAME=RUN_DIR",
                   help="a trained run folder under a label; the first is the main model (repeat for ablations)")
    p.add_argument("--weights", action="append", default=[], metavar="NAME=FOLDER",
                   help="shipped concept weights under a label: a folder with <bank>.safetensors and its record "
                        "<bank>.json (e.g. plugins/geoembed_geoclip/geoembed_geoclip/data/concept_minilm, or a copy "
                        "of it); validated before the --run models")
    p.add_argument("--weights-bank", default="geography", help="bank of the --weights files (default: geography)")
    p.add_argument("--out", default="benchmarks/results/concept_model", help="output folder")
    p.add_argument("--splits", default="val,test", help="held-out splits to evaluate on (default: val,test)")
    p.add_argument("--min-count", type=int, default=10, help="fewest positives/negatives for a concept's AUC")
    p.add_argument("--description-ceiling", action="store_true",
                   help="also score the held-out places by their own descriptions' MiniLM vectors (sentence means "
                        "and whole texts, bfloat16): what the concept texts can reach when the description is known")
    p.add_argument("--exclude-train-blocks-of", default=None, metavar="FOLDER",
                   help="also drop places whose spatial block is a training block of this other place-descriptions "
                        "build (the one the runs were trained on), to validate on another build")
    p.add_argument("--ceiling-encoder", default=None, metavar="FOLDER",
                   help="with --description-ceiling: a sentence-transformers model folder to embed the descriptions "
                        "and concept texts with instead of MiniLM (e.g. all-mpnet-base-v2), to see whether another "
                        "text space would raise the ceiling")
    p.add_argument("--max-places", type=int, default=None,
                   help="validate on a seeded random subset of this many held-out places (default: all)")
    args = p.parse_args(argv)
    if args.ceiling_encoder and not args.description_ceiling:
        p.error("--ceiling-encoder needs --description-ceiling.")
    if args.ceiling_encoder and not Path(args.ceiling_encoder).is_dir():
        p.error(f"--ceiling-encoder {args.ceiling_encoder}: no such folder (give a sentence-transformers model folder).")
    if args.max_places is not None and args.max_places < 20:
        p.error(f"--max-places must be >= 20, got {args.max_places}.")
    if not args.run and not args.weights and not args.description_ceiling:
        p.error("give at least one --run NAME=RUN_DIR, --weights NAME=FOLDER or --description-ceiling.")
    runs = []
    for item in args.weights:
        if "=" not in item:
            p.error(f"--weights takes NAME=FOLDER, got {item!r}.")
        name, path = item.split("=", 1)
        if not (Path(path) / f"{args.weights_bank}.safetensors").is_file():
            p.error(f"--weights {item}: {path} has no {args.weights_bank}.safetensors (see --weights-bank).")
        runs.append((name, "weights", path))
    for item in args.run:
        if "=" not in item:
            p.error(f"--run takes NAME=RUN_DIR, got {item!r}.")
        name, path = item.split("=", 1)
        if not (Path(path) / "config.json").is_file():
            p.error(f"--run {item}: {path} is not a training run folder (no config.json).")
        runs.append((name, "run", path))
    args.runs = runs
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np

    from geoembed.atomic import atomic_write
    from geoembed.concepts.text_encoders import encode_texts, get_text_encoder
    from geoembed_geoclip.concept_validation import RULES, auc_table, concept_scores, heldout_rules, mean_auc
    from geoembed_geoclip.description_pairs import description_embeddings, load_place_descriptions, location_embeddings
    from geoembed_geoclip.training_io import load_model

    places, manifest = load_place_descriptions(args.data)
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    held = places[places["split"].isin(splits)]
    if args.exclude_train_blocks_of:
        trained_on, other = load_place_descriptions(args.exclude_train_blocks_of)
        if other.get("split", {}).get("block_size_deg") != manifest.get("split", {}).get("block_size_deg"):
            raise SystemExit("--exclude-train-blocks-of: the two builds use different spatial blocks.")
        held = held[~held["block"].isin(set(trained_on.loc[trained_on["split"] == "train", "block"]))]
    if args.max_places is not None and args.max_places < len(held):
        keep = np.sort(np.random.default_rng(0).choice(len(held), size=args.max_places, replace=False))
        held = held.iloc[keep]
    held = held.reset_index(drop=True)
    if len(held) == 0:
        raise SystemExit(f"No places in the splits {splits}.")
    latlon = held[["lat", "lon"]].to_numpy(np.float64)
    z = location_embeddings(latlon)

    groups = {}
    for name, (rule, truth) in RULES.items():
        try:
            groups.setdefault("ground truth", {})[name] = (rule, truth(held))
        except KeyError:
            pass
    for word, (rule, truth) in heldout_rules(manifest).items():
        groups.setdefault("held-out words (zero-shot)", {})[word] = (rule, truth(held))
    encoder = get_text_encoder("minilm")
    results = {"data": {"version": manifest.get("version"), "places_sha256": manifest.get("places_sha256"),
                        "held_out_places": int(len(held)), "splits": splits,
                        "excluded_train_blocks_of": args.exclude_train_blocks_of, "max_places": args.max_places},
               "runs": {}}
    runs = list(args.runs)
    ceiling_encoder, ceiling_label = encoder, ""
    if args.ceiling_encoder:
        from geoembed.concepts.text_encoders import create_text_encoder

        ceiling_encoder = create_text_encoder("sentence_transformers", model=args.ceiling_encoder)
        ceiling_label = f", {Path(args.ceiling_encoder).name}"
    if args.description_ceiling:
        runs += [(f"own description ({pooling}{ceiling_label})", "ceiling", pooling)
                 for pooling in ("sentences", "whole")]
    texts = {group: encode_texts(encoder, list(concepts)) for group, concepts in groups.items()}
    ceiling_texts = texts if ceiling_encoder is encoder else {
        group: encode_texts(ceiling_encoder, list(concepts)) for group, concepts in groups.items()}
    for run_name, kind, run_dir in runs:
        if kind == "ceiling":  # the places' own descriptions, in the ceiling's text space
            model = None
            own = description_embeddings(held["description"].tolist(), encoder=ceiling_encoder, pooling=run_dir,
                                         precision="bfloat16")
            run = {"description_pooling": run_dir, "text_encoder": ceiling_encoder.identity, "groups": {}}
        elif kind == "weights":
            model = shipped_model(run_dir, args.weights_bank)
            run = {"weights": str(run_dir), "sha256": model.sha256, "groups": {}}
        else:
            model = load_model(run_dir)
            run = {"run_dir": str(run_dir), "groups": {}}
        for group, concepts in groups.items():
            names = list(concepts)
            if model is None:
                scores = own @ ceiling_texts[group].T  # unit vectors on both sides: cosines
            else:
                scores = concept_scores(model, z, texts[group])
            rows = auc_table(scores, {n: concepts[n][1] for n in names}, names, min_count=args.min_count)
            for row in rows:
                row["rule"] = concepts[row["concept"]][0]
            run["groups"][group] = {"rows": rows, "mean_auc": mean_auc(rows),
                                    "evaluated": sum(r["auc"] is not None for r in rows)}
        if model is not None and model.concepts is not None and set(groups["ground truth"]) <= set(model.concept_names):
            # the same concepts scored by the trained model's own activations (basis = text + learned offset)
            import torch

            names = list(groups["ground truth"])
            index = [model.concept_names.index(n) for n in names]
            with torch.no_grad():
                acts = model.concepts.location_activations(torch.as_tensor(z)).numpy()[:, index]
            rows = auc_table(acts, {n: groups["ground truth"][n][1] for n in names}, names, min_count=args.min_count)
            for row in rows:
                row["rule"] = groups["ground truth"][row["concept"]][0]
            run["bank_activations"] = {"rows": rows, "mean_auc": mean_auc(rows),
                                       "evaluated": sum(r["auc"] is not None for r in rows)}
        results["runs"][run_name] = run
        print(run_name, {g: (round(v["mean_auc"], 4) if v["mean_auc"] else None, v["evaluated"])
                         for g, v in run["groups"].items()},
              "bank activations:", run.get("bank_activations", {}).get("mean_auc"), flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "validation.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    with atomic_write(out / "validation.md") as tmp:
        tmp.write_text(markdown(results))
    chart(results, out / "validation_auc.png")
    print(f"wrote {out / 'validation.json'}, {out / 'validation.md'}, {out / 'validation_auc.png'}")
    return 0


def shipped_model(folder: str, bank: str):
    """Shipped concept weights (sha256-verified, loaded as the ``geoclip-minilm`` projection loads them) as the
    attributes the scoring reads: ``concepts`` (the concept module) and ``concept_names``."""
    from types import SimpleNamespace

    from geoembed_geoclip.concept_projection import GeoCLIPMiniLMProjection

    projection = GeoCLIPMiniLMProjection(bank, weights_folder=folder)
    return SimpleNamespace(concepts=projection.alignment, concept_names=projection.concept_names,
                           sha256=projection.weights.sha256)


def markdown(results: dict) -> str:
    runs = list(results["runs"])
    groups = list(next(iter(results["runs"].values()))["groups"])
    lines = [f"Held-out places: {results['data']['held_out_places']} (splits {', '.join(results['data']['splits'])})",
             "", "| | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    for g in groups:
        cells = []
        for r in runs:
            info = results["runs"][r]["groups"][g]
            cells.append("-" if info["mean_auc"] is None else f"{info['mean_auc']:.3f} ({info['evaluated']})")
        lines.append(f"| mean AUC, {g} | " + " | ".join(cells) + " |")
    cells = []
    for r in runs:
        info = results["runs"][r].get("bank_activations")
        cells.append("-" if not info or info["mean_auc"] is None else f"{info['mean_auc']:.3f} ({info['evaluated']})")
    lines.append("| mean AUC, ground truth scored by the trained bank activations (offset included) | "
                 + " | ".join(cells) + " |")
    for g in groups:
        lines += ["", f"**{g}** (AUC per concept; positives among held-out places)", "",
                  "| concept | rule | positives | " + " | ".join(runs) + " |", "|---|---|---|" + "---|" * len(runs)]
        first = results["runs"][runs[0]]["groups"][g]["rows"]
        for i, row in enumerate(first):
            cells = []
            for r in runs:
                auc = results["runs"][r]["groups"][g]["rows"][i]["auc"]
                cells.append("-" if auc is None else f"{auc:.3f}")
            lines.append(f"| {row['concept']} | {row['rule']} | {row['positives']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from geoembed.maps import save_figure

    runs = list(results["runs"])
    main_run = results["runs"][runs[0]]
    rows = [(g, r) for g, info in main_run["groups"].items() for r in info["rows"] if r["auc"] is not None]
    rows.sort(key=lambda gr: gr[1]["auc"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, max(6, 0.22 * len(rows))),
                                 gridspec_kw={"width_ratios": [3, 2]})
    colours = {g: c for g, c in zip(main_run["groups"], ("tab:blue", "tab:orange", "tab:green"))}
    ax.barh(range(len(rows)), [r["auc"] for _, r in rows], color=[colours[g] for g, _ in rows])
    ax.set_yticks(range(len(rows)), [r["concept"] for _, r in rows], fontsize=7)
    ax.axvline(0.5, color="grey", ls=":", label="chance (0.5)")
    ax.axvline(0.85, color="red", ls="--", label="target mean (0.85)")
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=c, label=g) for g, c in colours.items()]
    ax.set_xlim(0, 1)
    ax.set_xlabel("ROC AUC on held-out spatial blocks")
    ax.set_title(f"Concept scores vs ground-truth maps ({runs[0]})")
    ax.legend(handles=handles, loc="lower right", fontsize=7)
    groups = list(main_run["groups"])
    width = 0.8 / len(groups)
    for k, g in enumerate(groups):
        values = [results["runs"][r]["groups"][g]["mean_auc"] or 0 for r in runs]
        bx.bar(np.arange(len(runs)) + k * width, values, width, label=g, color=colours[g])
    bx.axhline(0.85, color="red", ls="--")
    bx.axhline(0.5, color="grey", ls=":")
    bx.set_xticks(np.arange(len(runs)) + width * (len(groups) - 1) / 2, runs, rotation=20)
    bx.set_ylim(0.4, 1)
    bx.set_ylabel("mean ROC AUC")
    bx.set_title("Ablations: mean AUC")
    bx.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
