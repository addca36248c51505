"""Train the concept-aware GeoCLIP alignment on place descriptions (one seeded, reproducible command).

    python plugins/geoembed_geoclip/scripts/train_concept_descriptions.py \
        --data DATA/place_descriptions_v1 --out runs/concept-geography --ship
    # ablations (same data, same seed)
    ... --out runs/no-bottleneck --no-concepts
    ... --out runs/no-divergence --divergence-weight 0
    ... --out runs/generic --bank generic
    # the full-build recipe (sentence means, bfloat16 MiniLM, pairwise alignment term)
    ... --data DATA/place_descriptions_v1 --out runs/full-build --pooling sentences --text-precision bfloat16 \
        --alignment-weight 5

Description embeddings (MiniLM) and GeoCLIP location embeddings are computed once and cached (geoembed's disk
cache), so ablations reuse them. ``--ship`` exports the trained concept module into the plugin package
(``geoembed_geoclip/data/concept_minilm/<bank>.safetensors`` + its weights record ``<bank>.json``).
"""

from __future__ import annotations

import argparse
import sys
import time


def parse_args(argv=None) -> argparse.Namespace:
    from geoembed_geoclip.training_descriptions import DESCRIPTION_DEFAULTS as D

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="place-descriptions folder (places.parquet + manifest.json); "
                   "default: <geoembed cache>/place_descriptions/v1")
    p.add_argument("--out", required=True, help="new run folder")
    p.add_argument("--bank", default="geography", help="MiniLM concept bank (geography, generic or a saved bank)")
    p.add_argument("--no-concepts", action="store_true", help="ablation: no concept bottleneck (plain GeoCLIP head)")
    p.add_argument("--divergence-weight", type=float, default=D["divergence_weight"])
    p.add_argument("--alignment-weight", type=float, default=D["alignment_weight"],
                   help="weight of the pairwise activation-alignment term (0: the paper's two losses only)")
    p.add_argument("--epochs", type=int, default=D["epochs"])
    p.add_argument("--batch-size", type=int, default=D["batch_size"])
    p.add_argument("--lr", type=float, default=D["lr"])
    p.add_argument("--queue-size", type=int, default=D["queue_size"])
    p.add_argument("--max-train", type=int, default=None,
                   help="train on a seeded random subset of this many training places (default: all)")
    p.add_argument("--pooling", choices=("whole", "sentences"), default="whole",
                   help="description side: the whole text's MiniLM vector (default) or the mean of its sentences'")
    p.add_argument("--text-precision", choices=("float32", "bfloat16"), default="float32",
                   help="MiniLM precision for the descriptions (bfloat16: 2.6x faster on CPUs with native bfloat16, "
                        "slower on others)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--ship", action="store_true", help="export the trained concept module into the plugin package")
    args = p.parse_args(argv)
    if args.ship and args.no_concepts:
        p.error("--ship exports a concept module; --no-concepts has none.")
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}.")
    if args.max_train is not None and args.max_train < 2:
        p.error(f"--max-train must be >= 2, got {args.max_train}.")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from geoembed_geoclip.training_descriptions import description_config, prepare_data, ship, train_on_descriptions

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data = prepare_data(args.data, max_rows=args.max_train, seed=args.seed, pooling=args.pooling,
                        text_precision=args.text_precision)
    prepared = time.perf_counter() - started
    config = description_config(None if args.no_concepts else args.bank, divergence_weight=args.divergence_weight,
                                alignment_weight=args.alignment_weight,
                                epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                queue_size=args.queue_size, seed=args.seed)
    train_on_descriptions(data, args.out, config)
    trained = time.perf_counter() - started - prepared
    print(f"{len(data.rows)} training places; embeddings {prepared:.0f} s (cached after the first run), "
          f"training {trained:.0f} s; run folder {args.out}")
    if args.ship:
        out = ship(args.out, args.bank, ["python", "plugins/geoembed_geoclip/scripts/train_concept_descriptions.py",
                                         *(sys.argv[1:] if argv is None else argv)])
        print(f"shipped {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
