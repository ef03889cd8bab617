"""Turn sign data into SPOTER CSVs.

    python preprocess.py convert ../shared/data/signs/asl.npz asl.csv.gz --signers a,b --max_per_class 40
"""
import argparse
import logging
import sys

import numpy as np

from datasets import filter_signs, read_signs
from datasets.sign_data import DataError
from datasets.spoter_csv import write_spoter_csv

log = logging.getLogger("preprocess")


def comma_list(value):
    return [item for item in value.split(",") if item]


def cap_per_class(data, max_per_class, seed):
    """At most ``max_per_class`` clips of each (signer, label), chosen at random with ``seed``."""
    rng = np.random.default_rng(seed)
    groups = data.labels if data.signers is None else np.char.add(np.char.add(data.signers, "\0"), data.labels)
    keep = [
        rng.permutation(np.flatnonzero(groups == group))[:max_per_class] for group in np.unique(groups)
    ]
    return data.subset(np.sort(np.concatenate(keep)))


def convert(args):
    data = read_signs(args.source)
    keep = np.ones(len(data), dtype=bool)
    if args.signers:
        if data.signers is None:
            raise DataError(f"{args.source}: has no signer information to select by")
        unknown = sorted(set(args.signers) - set(data.signers))
        if unknown:
            raise DataError(f"{args.source}: no clips of signer(s) {', '.join(unknown)}")
        keep &= np.isin(data.signers, args.signers)
    data = filter_signs(data.subset(np.flatnonzero(keep)), args.exclude_labels, args.language)
    if args.max_per_class:
        data = cap_per_class(data, args.max_per_class, args.seed)
    write_spoter_csv(data, args.destination, decimals=args.decimals)
    log.info("wrote %d clips of %d classes to %s", len(data), len(np.unique(data.labels)), args.destination)


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "convert", help="write any readable source (SPOTER CSV, MediaPipe .npz) as a SPOTER CSV",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    command.add_argument("source", help="input file")
    command.add_argument("destination", help="output SPOTER CSV; a .gz suffix compresses it")
    command.add_argument("--signers", type=comma_list, default=[], help="keep only these signers (comma-separated)")
    command.add_argument("--language", type=comma_list, default=[], help="keep only these languages")
    command.add_argument("--exclude_labels", type=comma_list, default=["_idle"], help="labels to drop")
    command.add_argument("--max_per_class", type=int, default=0, help="cap clips per signer and class; 0: all")
    command.add_argument("--decimals", type=int, default=5, help="decimals written per coordinate")
    command.add_argument("--seed", type=int, default=0, help="seed of the per-class selection")
    command.set_defaults(run=convert)
    return parser


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    arguments = get_args_parser().parse_args()
    try:
        arguments.run(arguments)
    except DataError as error:
        log.error("%s", error)
        sys.exit(2)
