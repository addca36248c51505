"""``geoembed train FEATURES COORDS -o RUN``: train GeoCLIP or concept-aware GeoCLIP on precomputed image features.

A ``geoembed.commands`` entry point of this plugin (see :mod:`geoembed.cli` for the contract).
"""

from __future__ import annotations

import argparse

from geoembed.cli_args import check_device, device, positive_int
from geoembed.errors import GeoembedError


name = "train"
help = "train (concept-aware) GeoCLIP on precomputed image features and their coordinates"  # noqa: A001
description = (
    "Train GeoCLIP's image head and location encoder, by default with the Concept-Aware Alignment Module, "
    "from FEATURES (.npy, (N, F) or (N, P, F) for P augmented views; memory-mapped) and COORDS (.npy (N, 2) "
    "lat, lon, or a points file). Defaults follow the GeoCLIP paper (Adam 3e-5, weight decay 1e-6, x0.87 per "
    "epoch, batch 512, queue 4096, GPS noise 150 m / 1000 m, temperature 0.07). Writes RUN/config.json, "
    "model.safetensors, a resumable checkpoint and metrics.json/metrics.csv."
)
epilog = "example: geoembed train feats.npy coords.npy -o runs/geography --bank geography --epochs 10"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("features", metavar="FEATURES", help=".npy image features")
    parser.add_argument("coordinates", metavar="COORDS", help=".npy [lat, lon] rows, or a points file")
    parser.add_argument("-o", "--output", required=True, metavar="RUN", help="run folder (created)")
    parser.add_argument("--val-features", metavar="PATH", help="held-out features: per-epoch retrieval accuracy")
    parser.add_argument("--val-coords", metavar="PATH", help="held-out coordinates (with --val-features)")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN (raise --epochs to go on)")

    model = parser.add_argument_group("model (ablations: --no-concepts, --divergence-weight 0, --bank generic)")
    concepts = model.add_mutually_exclusive_group()
    concepts.add_argument("--bank", dest="concepts", metavar="NAME|PATH", default=argparse.SUPPRESS,
                          help="concept bank: geography (default), generic, or a saved bank's folder")
    concepts.add_argument("--no-concepts", dest="concepts", action="store_const", const=None, default=argparse.SUPPRESS,
                          help="plain GeoCLIP (no concept module)")
    model.add_argument("--image-head", choices=("mlp", "mp16", "none"),
                       help="mlp: GeoCLIP's head shape trained from scratch (default); mp16: the published head "
                            "(768-d CLIP ViT-L/14 features); none: features straight into concept space")
    model.add_argument("--location-encoder", metavar="NAME", help="registered location encoder (default: geoclip)")
    model.add_argument("--random-location-weights", action="store_true",
                       help="start the location encoder from random weights instead of pretrained ones")
    model.add_argument("--train-location", choices=("all", "heads", "none"),
                       help="which location encoder parameters train (default: all)")
    model.add_argument("--temperature", type=float, help="initial temperature (default: 0.07)")
    model.add_argument("--no-center-concepts", dest="center_concepts", action="store_const", const=False,
                       help="use the bank's vectors as they are (default: subtract their mean first)")

    loss = parser.add_argument_group("concept space divergence")
    loss.add_argument("--divergence", choices=("cs", "mmd"), help="Cauchy-Schwarz (default) or MMD squared")
    loss.add_argument("--divergence-weight", type=float, metavar="W", help="weight of the divergence (default: 0.1)")
    loss.add_argument("--bandwidth", type=float, metavar="S", help="Gaussian kernel bandwidth (default: median)")

    schedule = parser.add_argument_group("optimisation")
    schedule.add_argument("--epochs", type=positive_int)
    schedule.add_argument("--batch-size", type=positive_int)
    schedule.add_argument("--lr", type=float)
    schedule.add_argument("--weight-decay", type=float)
    schedule.add_argument("--lr-gamma", type=float, help="learning rate factor per epoch (default: 0.87)")
    schedule.add_argument("--queue-size", type=int, help="GPS negatives queue length (default: 4096)")
    schedule.add_argument("--gps-noise-m", type=float, help="GPS noise sigma of batch coordinates (default: 150)")
    schedule.add_argument("--queue-noise-m", type=float, help="GPS noise sigma of queue coordinates (default: 1000)")
    schedule.add_argument("--views", type=positive_int, help="views per image and step (default: all in FEATURES)")
    schedule.add_argument("--seed", type=int)
    schedule.add_argument("--device", type=device, help="auto (default), cpu, cuda, cuda:N or mps")
    schedule.add_argument("--no-amp", dest="amp", action="store_const", const=False,
                          help="no bfloat16 mixed precision on CUDA")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


OPTIONS = ("image_head", "location_encoder", "train_location", "center_concepts", "temperature", "divergence",
           "divergence_weight", "bandwidth", "epochs", "batch_size", "lr", "weight_decay", "lr_gamma", "queue_size",
           "gps_noise_m", "queue_noise_m", "views", "seed", "device", "amp")


def training_options(args: argparse.Namespace) -> dict:
    """The options given on the command line (the rest keep :class:`TrainConfig`'s defaults, or the run's on resume)."""
    options = {name: getattr(args, name) for name in OPTIONS if getattr(args, name, None) is not None}
    if hasattr(args, "concepts"):
        options["concepts"] = args.concepts
    if args.random_location_weights:
        options["location_encoder_kwargs"] = {"pretrained": False, "seed": args.seed or 0}
    return options


def run(args: argparse.Namespace) -> int:
    from geoembed_geoclip.training import train_geoclip

    if args.device is not None:
        check_device(args.device)
    try:
        result = train_geoclip(args.features, args.coordinates, args.output, val_features=args.val_features,
                               val_coordinates=args.val_coords, resume=args.resume, progress=not args.no_progress,
                               **training_options(args))
    except (ValueError, FloatingPointError) as exc:  # bad input found deep inside: one clear line, not a traceback
        if isinstance(exc, GeoembedError):
            raise
        raise GeoembedError(str(exc)) from exc
    last = result.history[-1] if result.history else {}
    shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("epoch", "lr", "seconds"))
    print(f"trained {len(result.history)} epoch(s) -> {result.run_dir} ({shown})")
    return 0
