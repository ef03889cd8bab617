"""Turn sign videos, pose files and keypoint archives into SPOTER CSVs.

    python preprocess.py extract videos/ landmarks/ --workers 2          # MediaPipe Holistic, one file per video
    python preprocess.py create landmarks/ csv/ --labels folder          # train/val/test CSVs + id-to-gloss JSON
    python preprocess.py convert ../shared/data/signs/asl.npz asl.csv.gz --signers a,b --max_per_class 40
"""
import argparse
import logging
import time
from pathlib import Path

import numpy as np

from datasets import filter_signs, read_signs
from datasets.splits import k_shot_selection
from datasets.formats.spoter_csv import CSV_SUFFIXES, write_spoter_csv
from preprocessing import extract as extraction
from preprocessing.create import SplitOptions, create
from preprocessing.labels import folder_labeller, lsa64_labeller, wlasl_labeller
from utils.cli import Parser, comma_list, run_command, shard_spec
from utils.errors import DataError
from utils.run_files import refuse_overwriting_inputs
from utils.settings import Range, add_common, at_least, checked

log = logging.getLogger("preprocess")
DECIMALS = checked(int, Range(1, 12, integer=True))
SPLIT_SIZE = Range(0)


def cap_per_class(data, max_per_class, seed):
    """At most ``max_per_class`` clips of each (signer, label), chosen at random with ``seed``."""
    groups = data.labels if data.signers is None else np.char.add(np.char.add(data.signers, "\0"), data.labels)
    return data.subset(k_shot_selection(groups, max_per_class, seed))


def check_destination(source, destination):
    """A SPOTER CSV is what convert writes: refuse a name that says otherwise, or that is the source."""
    if not any(Path(destination).name.lower().endswith(suffix) for suffix in CSV_SUFFIXES):
        raise DataError(f"{destination}: convert writes a SPOTER CSV; name the output "
                        f"{' or '.join('*' + suffix for suffix in CSV_SUFFIXES)}")
    refuse_overwriting_inputs("destination", destination, {"source": source})


def selection_flags(args):
    """The filters of a convert command in effect (defaults included), as flags: ``--signers a,b --language LSE``."""
    given = [("--signers", args.signers), ("--exclude_labels", args.exclude_labels), ("--language", args.language)]
    return " ".join(f"{flag} {','.join(values)}" for flag, values in given if values)


def refuse_empty_selection(data, args):
    """An empty selection is the filters' doing, not the file's: say which filters, before writing anything."""
    if not len(data):
        raise DataError(f"{args.source}: no clip is left after {selection_flags(args) or 'reading'}; "
                        f"nothing to convert")


def convert(args):
    check_destination(args.source, args.destination)
    data = read_signs(args.source, args.cache_dir or None)
    keep = np.ones(len(data), dtype=bool)
    if args.signers:
        if data.signers is None:
            raise DataError(f"{args.source}: has no signer information to select by (--signers)")
        unknown = sorted(set(args.signers) - set(data.signers))
        if unknown:
            raise DataError(f"{args.source}: no clips of signer(s) {', '.join(unknown)} (--signers)")
        keep &= np.isin(data.signers, args.signers)
    data = filter_signs(data.subset(np.flatnonzero(keep)), args.exclude_labels, args.language)
    refuse_empty_selection(data, args)
    if args.max_per_class:
        data = cap_per_class(data, args.max_per_class, args.seed)
    write_spoter_csv(data, args.destination, decimals=args.decimals)
    log.info("wrote %d clips of %d classes to %s", len(data), len(np.unique(data.labels)), args.destination)


def extract(args):
    tasks = extraction.plan(args.videos, args.output, face=args.face)
    if not tasks:
        raise DataError(f"{args.videos}: no videos ({', '.join(extraction.VIDEO_SUFFIXES)})")
    if args.shard:
        index, count = args.shard
        total, tasks = len(tasks), extraction.shard(tasks, args.videos, index, count)
        log.info("shard %d/%d: %d of the %d video(s)", index + 1, count, len(tasks), total)
    todo = extraction.pending(tasks)
    log.info("%d video(s): %d already done (skipped), %d to extract with %d worker(s)",
             len(tasks), len(tasks) - len(todo), len(todo), args.workers)
    if not todo:
        return
    start = time.perf_counter()
    results = extraction.run_extraction(todo, args.workers, progress=not args.no_progress)
    for line in extraction.summary(results, time.perf_counter() - start):
        log.info("%s", line)


def labeller_from_args(args):
    if args.labels == "wlasl":
        if not args.metadata:
            raise DataError("--labels wlasl needs --metadata (WLASL's JSON, e.g. WLASL_v0.3.json)")
        return wlasl_labeller(args.metadata, args.num_classes)
    if args.num_classes is not None:
        raise DataError("--num_classes selects WLASL classes; it needs --labels wlasl")
    if args.labels == "lsa64":
        return lsa64_labeller(args.sign_names or None)
    return folder_labeller()


def create_csvs(args):
    labeller = labeller_from_args(args)
    split = args.split or ("official" if labeller.has_splits else "fresh")
    options = SplitOptions(
        official=split == "official", test_size=args.test_size, val_size=args.val_size,
        test_signers=args.test_signers, val_signers=args.val_signers, seed=args.seed,
    )
    create(args.source, args.output, labeller, options, name=args.name or None, decimals=args.decimals)


def add_extract_parser(commands):
    command = commands.add_parser(
        "extract", help="MediaPipe Holistic landmarks of every video in a folder (resumable)",
        description="Run MediaPipe Holistic over every video under VIDEOS and write one landmark file "
                    "(.npz: pose [F,33,4], left/right hand [F,21,3], optional face, width, height, fps) per "
                    "video under OUTPUT, mirroring the folders. Videos whose file exists are skipped, so an "
                    "interrupted run continues where it stopped. Needs " + extraction.INSTALL_HINT + ".",
    )
    command.add_argument("videos", help="folder of videos (searched recursively)")
    command.add_argument("output", help="folder for the landmark files")
    command.add_argument("--workers", type=checked(int, at_least(1)), default=1,
                         help="worker processes, each running one video at a time")
    command.add_argument("--face", action="store_true", help="also keep the 468 face landmarks")
    command.add_argument("--shard", type=shard_spec, default=None, metavar="K/N",
                         help="only shard K (1-based) of N: a fixed share of the videos chosen by a hash of "
                              "their path, so N cluster jobs (e.g. a SLURM array) cover the set once, with "
                              "no overlap and no coordination; point them all at the same OUTPUT")
    add_common(command, "no_progress")
    command.set_defaults(run=extract)


def add_create_parser(commands):
    command = commands.add_parser(
        "create", help="SPOTER train/val/test CSVs and id-to-gloss JSON from landmark/.pose files or MP_Data",
        description="Label the clips under SOURCE (landmark .npz files of `extract`, .pose files, or MP_Data "
                    "sequence folders), split them and write OUTPUT/<name>_{train,val,test}.csv (empty splits "
                    "are not written) and OUTPUT/<name>_id_to_gloss.json. Sizes are a count (>= 1) or a "
                    "fraction (< 1) of signers when signers are known (signer-disjoint splits), otherwise a "
                    "fraction of each class's clips.",
    )
    command.add_argument("source", help="folder of clips")
    command.add_argument("output", help="folder for the CSVs and the JSON")
    command.add_argument("--labels", choices=["wlasl", "lsa64", "folder"], default="folder",
                         help="wlasl: files named by video id, labelled by --metadata; lsa64: files named "
                              "SSS_PPP_RRR (sign, signer, repetition); folder: one subfolder per class")
    command.add_argument("--metadata", default="", help="WLASL JSON metadata (WLASL_v0.3.json or a subset)")
    command.add_argument("--num_classes", type=checked(int, at_least(1)), default=None,
                         help="WLASL: keep the first N glosses (100: WLASL100)")
    command.add_argument("--sign_names", default="", help="LSA64: table of 'number|name|...' lines naming the signs")
    command.add_argument("--split", choices=["official", "fresh"], default=None,
                         help="official: the dataset's own split (WLASL); fresh: a new seeded split; "
                              "default: official when the labels have one")
    size = checked(float, SPLIT_SIZE)
    command.add_argument("--test_size", type=size, default=0.2, help="fresh split: test signers or fraction; 0: none")
    command.add_argument("--val_size", type=size, default=0.1,
                         help="fresh split: validation signers or fraction; 0: none")
    command.add_argument("--test_signers", type=comma_list, default=[],
                         help="fresh split: hold out these signers for test")
    command.add_argument("--val_signers", type=comma_list, default=[],
                         help="fresh split: hold out these signers for validation")
    add_common(command, "seed", seed=0)
    command.add_argument("--name", default="", help="output file prefix; default: wlasl<N>, lsa64 or signs")
    command.add_argument("--decimals", type=DECIMALS, default=5, help="decimals written per coordinate")
    command.set_defaults(run=create_csvs)


def get_args_parser():
    """Flags are spelled with underscores; hyphenated spellings (--num-classes) are accepted too."""
    parser = Parser(prog="preprocess.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    add_extract_parser(commands)
    add_create_parser(commands)
    command = commands.add_parser(
        "convert", help="write any readable source (SPOTER CSV, MediaPipe .npz, .pose, a folder per class) as a SPOTER CSV",
    )
    command.add_argument("source", help="input file or folder")
    command.add_argument("destination", help="output SPOTER CSV (.csv, or .csv.gz to compress it)")
    command.add_argument("--signers", type=comma_list, default=[], help="keep only these signers (comma-separated)")
    command.add_argument("--language", type=comma_list, default=[], help="keep only these languages")
    add_common(command, "exclude_labels", "cache_dir")
    command.add_argument("--max_per_class", type=checked(int, at_least(0)), default=0,
                         help="cap clips per signer and class; 0: all")
    command.add_argument("--decimals", type=DECIMALS, default=5, help="decimals written per coordinate")
    add_common(command, "seed", seed=0)
    command.set_defaults(run=convert)
    return parser


def main(argv=None):
    return run_command(lambda args: args.run(args), get_args_parser(), argv)


if __name__ == "__main__":
    main()
