"""Search signs by example and score practice attempts, with a model and an index of its embeddings.

    python search.py index DATA -o INDEX.npz [--checkpoint CKPT]       # embed a dataset into an index
    python search.py query CLIPS [--index INDEX.npz] [-k 5] [--json]   # the nearest glosses of every clip
    python search.py practice CLIP --gloss G [--index INDEX.npz]       # a 0-100 score for an attempt at G

DATA and CLIPS are anything the project reads (SPOTER CSV, MediaPipe .npz, .pose, landmark files of
preprocess.py extract, class folders). The checkpoint and index default to the bundled pretrained model
(pretrained/model.pt, pretrained/index.npz). An index remembers the sha256 of the checkpoint that made
it; query and practice refuse an index of another model. The practice score is calibrated on the index's
own distances: see retrieval/practice.py and the README's "Search and practice". On the same calibration,
query says beside each clip whether its nearest gloss is a match, uncertain, or "no sign I know" (too far
from every gloss of the index to be trusted: retrieval/confidence.py).
"""
import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

import numpy as np

from datasets import class_keys, data_files, filter_signs, read_sign_files, read_signs
from models.checkpoint import load_model
from retrieval.confidence import VERDICT_TEXT, match_verdict, verdict_thresholds
from retrieval.embedding import embed_signs, hands_detected
from retrieval.feedback import index_feedback
from retrieval.index import build_index, check_output, load_index, save_index
from retrieval.neighbours import BACKENDS
from retrieval.practice import assess
from utils.atomic import same_file
from utils.cli import Parser, format_table, run_command
from utils.errors import DataError
from utils.files import file_sha256
from utils.reproducibility import resolve_device
from utils.run_files import check_output_file, write_json
from utils.settings import add_common, at_least, checked

log = logging.getLogger("search")

PRETRAINED = Path(__file__).resolve().parent / "pretrained"
DEFAULT_CHECKPOINT = PRETRAINED / "model.pt"
DEFAULT_INDEX = PRETRAINED / "index.npz"
# An unknown --gloss is answered with every gloss of an index up to this many (one line stays readable),
# with the closest spellings beyond.
MAX_LISTED_GLOSSES = 60


def get_args_parser():
    """Flags are spelled with underscores, as in every command; the hyphenated spellings of earlier versions
    (--batch-size, --clip-id) still work (:class:`utils.cli.Parser`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT),
                        help="model that embeds the clips")
    add_common(common, "device", "cache_dir", device="cpu")
    common.add_argument("--batch_size", type=checked(int, at_least(1)), default=256, help="clips per embedding batch")
    searching = argparse.ArgumentParser(add_help=False)
    searching.add_argument("--index", default=str(DEFAULT_INDEX),
                           help="index file of search.py index, made with the same model")
    searching.add_argument("-k", type=checked(int, at_least(1)), default=5, help="nearest glosses to list")
    searching.add_argument("--backend", default="auto", choices=BACKENDS,
                           help="nearest-neighbour search, both exact: torch or faiss; auto: faiss for indexes of "
                                "10,000 clips or more queried a few clips at a time, else torch")
    searching.add_argument("--json", nargs="?", const="-", default="", metavar="FILE",
                           help="write the results as JSON to FILE (to stdout without FILE) instead of a table")

    parser = Parser(prog="search.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)  # each command's parser is a Parser too
    index = commands.add_parser("index", parents=[common], help="embed a dataset into an index file",
                                description="Embed every clip of DATA into one .npz index (see retrieval/index.py).")
    index.add_argument("data", help="any readable dataset (.csv, .csv.gz, .npz, .pose, class folder); several "
                                    "comma-separated files are indexed as one")
    index.add_argument("-o", "--output", required=True, help="index file to write (.npz)")
    add_common(index, "exclude_labels")
    index.add_argument("--overwrite", action="store_true", help="replace OUTPUT when it exists")

    query = commands.add_parser("query", parents=[common, searching], help="the nearest glosses of every clip",
                                description="List the k nearest glosses (by their nearest index clip) of every clip.")
    query.add_argument("clips", help="any readable file or folder of clips")

    practice = commands.add_parser("practice", parents=[common, searching], help="score an attempt at a gloss",
                                   description="Score one clip as an attempt at --gloss, 0-100, calibrated on the "
                                               "index (see the README's 'Search and practice').")
    practice.add_argument("clip", help="a file holding the attempt (one clip, or several with --clip_id)")
    practice.add_argument("--gloss", required=True, help="the gloss the clip is meant to be (case aside)")
    practice.add_argument("--clip_id", default="", help="which clip of a file holding several")
    practice.add_argument("--references", type=checked(int, at_least(0)), default=3,
                          help="closest reference clips to list")
    return parser


def load_checkpoint_model(args):
    """``(model, its sha256, its config)`` of --checkpoint."""
    if not Path(args.checkpoint).is_file():
        raise DataError(f"{args.checkpoint}: checkpoint not found (--checkpoint)")
    model, checkpoint = load_model(args.checkpoint, resolve_device(args.device))
    if checkpoint["config"].get("classification_model"):
        raise DataError(f"{args.checkpoint}: a classifier (--classification_model), whose class scores are no "
                        f"embedding to search (--checkpoint); train an embedding model")
    return model, file_sha256(args.checkpoint), checkpoint["config"]


def with_hands(data):
    """The clips of ``data`` in which a hand was detected; the others are reported and left out."""
    seen = hands_detected(data)
    if not seen.all():
        log.warning("%s: %d of %d clip(s) with no hand detected in any frame left out", data.source,
                    int((~seen).sum()), len(data))
    return data.subset(np.flatnonzero(seen))


def run_index(args):
    inputs = [*data_files(args.data), args.checkpoint]
    check_output(args.output, args.overwrite, inputs)
    model, sha, config = load_checkpoint_model(args)
    data = filter_signs(read_sign_files(args.data, args.cache_dir or None), exclude_labels=args.exclude_labels)
    data = with_hands(data)
    if not len(data):
        raise DataError(f"{args.data}: no clip with a detected hand to index")
    log.info("embedding %d clips of %s", len(data), args.data)
    embeddings = embed_signs(model, data, resolve_device(args.device), args.batch_size, progress=True)
    index = build_index(embeddings, data, class_keys(data)[0], sha, config)
    path = save_index(index, args.output, args.overwrite, inputs)
    signers = "signers unknown" if index.signers is None else f"{len(np.unique(index.signers))} signers"
    log.info("wrote %s: %d clips, %d glosses, %s, vector %d", path, len(index), len(index.glosses), signers,
             index.embeddings.shape[1])


def open_index(args, clips):
    """The model of --checkpoint and the index of --index, refused unless that model made it; also refuses
    a --json file that is one of the inputs, before any work."""
    inputs = (clips, args.index, args.checkpoint)
    if args.json not in ("", "-") and any(same_file(args.json, path) for path in inputs):
        raise DataError(f"--json {args.json}: is an input of this command; write the JSON to another file")
    if args.json != "-":
        check_output_file("--json", args.json)
    model, sha, config = load_checkpoint_model(args)
    index = load_index(args.index, sha, args.checkpoint)
    if index.embeddings.shape[1] != config["vector_length"]:
        raise DataError(f"{args.index}: vectors of {index.embeddings.shape[1]} numbers, but the model of "
                        f"{args.checkpoint} embeds in {config['vector_length']} (--index)")
    return model, index


def write_output(args, document, table):
    if not args.json:
        print(table)
    elif args.json == "-":
        print(json.dumps(document, indent=2))
    else:
        write_json(args.json, document)
        log.info("wrote %s", args.json)


def run_query(args):
    model, index = open_index(args, args.clips)
    data = read_signs(args.clips, args.cache_dir or None)
    seen = hands_detected(data)
    found = data.subset(np.flatnonzero(seen))
    results, rows = [], []
    if len(found):
        embeddings = embed_signs(model, found, resolve_device(args.device), args.batch_size)
        glosses, distances = index.nearest_glosses(embeddings, args.k, args.backend)
    position = 0
    for clip in range(len(data)):
        record = {"clip_id": str(data.clip_ids[clip]), "label": str(data.labels[clip])}
        if not seen[clip]:
            record["error"] = "no hand detected in any frame"
            rows.append([record["clip_id"], record["label"], "no hand detected in any frame: not searched"])
        else:
            pairs = [(str(g), float(d)) for g, d in zip(glosses[position], distances[position]) if math.isfinite(d)]
            record["nearest"] = [{"gloss": g, "distance": d} for g, d in pairs]
            record["verdict"] = match_verdict(pairs[0][1] if pairs else math.inf, index.score_quantiles)
            record["embedding"] = embeddings[position].tolist()
            rows.append([record["clip_id"], record["label"], VERDICT_TEXT[record["verdict"]]]
                        + [f"{g} ({d:.3f})" for g, d in pairs])
            position += 1
        results.append(record)
    k = min(args.k, len(index.glosses))
    uncertain_from, unknown_from = verdict_thresholds(index.score_quantiles)
    document = {"index": args.index, "checkpoint": args.checkpoint, "model_sha256": index.model_sha256,
                "distance": "euclidean", "verdict_from": {"uncertain": uncertain_from, "unknown": unknown_from},
                "clips": results}
    header = ["clip", "label", "verdict"] + [f"gloss {rank} (distance)" for rank in range(1, k + 1)]
    write_output(args, document, format_table(header, rows))
    if not len(found):
        raise DataError(f"{args.clips}: no clip with a detected hand; nothing to search")


def practice_clip(args):
    """The one clip of the practice file (chosen by --clip_id when it holds several)."""
    data = read_signs(args.clip, args.cache_dir or None)
    if args.clip_id:
        chosen = np.flatnonzero(data.clip_ids == args.clip_id)
        if not len(chosen):
            raise DataError(f"{args.clip}: no clip with id {args.clip_id!r} (--clip_id)")
        data = data.subset(chosen[:1])
    elif len(data) != 1:
        raise DataError(f"{args.clip}: holds {len(data)} clips; name the attempt with --clip_id "
                        f"(e.g. {data.clip_ids[0]!r})")
    if not hands_detected(data)[0]:
        raise DataError(f"{args.clip}: no hand detected in any of the clip's {data.lengths[0]} frames; "
                        f"sign with both hands in view of the camera")
    return data


def practice_gloss(args, index):
    """The index's label that --gloss names (case aside), or a DataError saying what it could have been."""
    matches = index.gloss_matches(args.gloss)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DataError(f"{args.index}: --gloss {args.gloss!r} names {len(matches)} glosses ({', '.join(matches)}); "
                        f"pass the one meant")
    raise DataError(f"{args.index}: no clip of gloss {args.gloss!r} (--gloss); {known_glosses(index, args.gloss)}")


def known_glosses(index, gloss):
    """What to offer instead of an unknown gloss: every gloss of a small index, the closest of a large one."""
    glosses = [str(label) for label in index.glosses]
    if len(glosses) <= MAX_LISTED_GLOSSES:
        return f"its {len(glosses)} glosses: {', '.join(glosses)}"
    closest = index.closest_glosses(gloss)
    if not closest:
        return f"none of its {len(glosses)} glosses is spelled like it"
    return f"the closest of its {len(glosses)} glosses: {', '.join(closest)}"


def run_practice(args):
    model, index = open_index(args, args.clip)
    gloss = practice_gloss(args, index)
    clip = practice_clip(args)
    embedding = embed_signs(model, clip, resolve_device(args.device), args.batch_size)[0]
    result = assess(index, embedding, gloss, args.k, args.references, args.backend)
    result.update(clip=args.clip, clip_id=str(clip.clip_ids[0]), index=args.index, embedding=embedding.tolist())
    # The clips read carry no frame rate: the attempt is taken at 30 a second, as the references are.
    result["feedback"] = index_feedback(index, gloss, clip.clip(0), embedding)
    lines = [
        f"{result['clip_id'] if args.clip_id else args.clip} as {gloss!r}: score {result['score']:.0f}/100",
        f"distance to the nearest {gloss!r} clip {result['distance']:.3f} (median distance between different "
        f"signs of the index: {result['other_gloss_median']:.3f})",
        "",
        format_table(["rank", "gloss", "distance", "score as that gloss"],
                     [[rank, g["gloss"] + ("  <- intended" if g["gloss"] == gloss else ""), f"{g['distance']:.3f}",
                       f"{g['score']:.0f}"] for rank, g in enumerate(result["nearest_glosses"], 1)]),
    ]
    if result["references"]:
        lines += ["", f"closest reference clips of {gloss!r}:",
                  format_table(["clip", "signer", "distance"],
                               [[r["clip_id"], r["signer"] or "unknown", f"{r['distance']:.3f}"]
                                for r in result["references"]])]
    lines += ["", *feedback_lines(result["feedback"])]
    write_output(args, result, "\n".join(lines))


def feedback_lines(feedback):
    """The per-part feedback as the page says it: what to fix first at the top (the part most unusual for two
    recordings of the sign), with the attempt's frames that differ most."""
    if "note" in feedback:
        return [f"per-part feedback: none ({feedback['note']})"]
    lines = [f"per-part feedback against {feedback['reference']['name']} (what to fix first at the top):"]
    for part in feedback["parts"]:
        frames = ", ".join(str(frame) for frame in part["worst_frames"])
        lines.append(f"  {part['score']:3.0f}/100  {part['sentence']}  (differs most at frames {frames})")
    return lines


COMMANDS = {"index": run_index, "query": run_query, "practice": run_practice}


def run(args):
    try:
        COMMANDS[args.command](args)
    except BrokenPipeError:  # the reader of stdout (e.g. head) stopped early: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv=None):
    return run_command(run, get_args_parser(), argv)


if __name__ == "__main__":
    main()
