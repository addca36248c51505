"""``geoembed concepts``: list concept banks and text encoders, show a bank, or build one from a concept file."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "concepts",
        help="list, show or build concept banks",
        description=(
            "Without arguments: list the registered concept banks and text encoders. With BANK (a name or a saved "
            "folder): show its concepts. With --from-file: embed the concepts of a CSV/JSON/YAML file with a text "
            "encoder and save the bank to -o FOLDER."
        ),
        epilog=(
            "examples:\n"
            "  geoembed concepts\n"
            "  geoembed concepts geography --category human/transport\n"
            "  geoembed concepts --from-file my_concepts.csv -o my_bank --text-encoder minilm"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bank", nargs="?", metavar="BANK", help="a concept bank name or saved folder to show")
    parser.add_argument("--category", help="only concepts under this category path")
    parser.add_argument("--from-file", metavar="FILE", help="build a bank from a concept file (.csv/.json/.yaml)")
    parser.add_argument("-o", "--output", metavar="FOLDER", help="where --from-file saves the bank")
    parser.add_argument("--text-encoder", default="minilm", help="text encoder for --from-file (default: minilm)")
    parser.add_argument("--overwrite", action="store_true", help="replace a bank already saved in FOLDER")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from geoembed.errors import GeoembedError

    if args.from_file is not None:
        if args.bank is not None or args.output is None:
            raise GeoembedError("--from-file FILE needs -o FOLDER, and no BANK.")
        from geoembed.concepts.bank import ConceptBank

        bank = ConceptBank.from_file(args.from_file, text_encoder=args.text_encoder, progress=True)
        bank.save(args.output, overwrite=args.overwrite)
        print(f"saved {bank} to {args.output}")
        return 0
    if args.bank is None:
        from geoembed.concepts.text_encoders import list_text_encoders
        from geoembed.registry import list_concept_banks

        print("concept banks: " + ", ".join(list_concept_banks()))
        print("text encoders: " + ", ".join(list_text_encoders()))
        return 0
    from geoembed.concepts.bank import load_concept_bank

    bank = load_concept_bank(args.bank)
    if args.category is not None:
        bank = bank.select(category=args.category)
    print(bank)
    print(bank.to_frame().to_string(index=False, max_colwidth=70))
    return 0
