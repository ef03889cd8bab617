"""Evaluate sign embeddings the way spoter-embeddings reports them, on signs and signers a model never saw.

Every query clip ranks the classes by their nearest reference clip (Euclidean distance):

  top-1 / top-5   the true class is among the first 1 / 5 distinct classes
  mAP             retrieval mean average precision over all reference clips
  class acc       top-1 averaged per class (rare classes count as much as frequent ones)
  silhouette      of all clips of the set (reference and query), by class
  k-shot          top-1 with only k reference clips per class (mean of seeded draws)

Protocol: --reference and --query files; or one --data file split by signer (held-out signers are the
queries) when it has two or more signers, else a seeded stratified split (the table marks such a set
"same signer", or "signers unknown" when the file names none: retrieving a signer's own repetitions is
easy for any method). Only queries whose class
has a reference clip are scored. With several languages in one file, the same gloss in two languages is
two classes.

    python evaluate.py --checkpoint out-checkpoints/run/best.pt --data ../shared/data/signs/other.npz \\
        --language BISINDO --baseline --json bisindo.json
    python evaluate.py --baseline_only --data ../shared/data/signs/other.npz --per_language
"""
import argparse
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets import class_keys, data_files, filter_signs, label_ids, read_sign_files
from datasets.filters import GLOSS_GROUPS, gloss_groups
from datasets.clip_dataset import ClipDataset
from datasets.splits import k_shot_selection, signer_or_stratified_split
from models.checkpoint import load_model
from models.raw_keypoints import BASELINE_FRAMES, RawKeypointEmbedding
from retrieval.embedding import embed
from retrieval.metrics import nearest_class_accuracy, retrieval_scores, silhouette
from utils.cli import Parser, comma_list, fold_spec, format_table, int_list, run_command
from utils.errors import DataError
from utils.settings import CountOrFraction, Range, add_common, at_least, checked
from utils.plots import embedding_scatter, subsample, write_figure
from utils.reproducibility import resolve_device
from utils.run_files import check_output_file, refuse_overwriting_inputs, write_json

log = logging.getLogger("evaluate")

K_SHOT_DRAWS = 10
# Below this many scored queries one clip moves top-1 by more than 10 points: the figures are anecdotes.
FEW_QUERIES = 10


def get_args_parser():
    """Flags are spelled with underscores; the hyphenated spellings of earlier versions (--batch-size) still
    work (:class:`utils.cli.Parser`)."""
    parser = Parser(prog="evaluate.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model = parser.add_argument_group("what to evaluate")
    model.add_argument("--checkpoint", default="", help="trained model (best.pt of a train.py run)")
    model.add_argument("--baseline", action="store_true",
                       help="also evaluate raw normalized keypoints, resampled and flattened, on the same protocol")
    model.add_argument("--baseline_only", action="store_true", help="evaluate the baseline alone (no checkpoint)")
    model.add_argument("--baseline_frames", type=checked(int, at_least(1)), default=BASELINE_FRAMES,
                       help="frames the baseline resamples every clip to (default %(default)s)")

    data = parser.add_argument_group("data and protocol")
    data.add_argument("--data", default="", help="file (SPOTER .csv/.csv.gz or MediaPipe .npz) to split; several "
                                                 "comma-separated files are read as one (signers kept apart per file)")
    data.add_argument("--reference", default="", help="reference file (instead of --data; needs --query)")
    data.add_argument("--query", default="", help="query file (instead of --data; needs --reference)")
    data.add_argument("--language", type=comma_list, default=[],
                      help="comma-separated languages to keep (files with a language column)")
    data.add_argument("--per_language", action="store_true",
                      help="evaluate every language of the data on its own, one table row each")
    data.add_argument("--min_signers", type=checked(int, at_least(0)), default=0,
                      help="keep only glosses signed by at least this many signers (counted before splitting; "
                           "with --reference, counted in the reference file)")
    add_common(data, "exclude_labels", "bsl_letters")
    data.add_argument("--held_out_signers", type=checked(float, CountOrFraction()), default=0.2,
                      help="signers held out as queries: a count (>= 1) or a fraction (< 1) (default %(default)s, "
                           "as train.py --validation_signers)")
    data.add_argument("--held_out_fold", type=fold_spec, default=None, metavar="K/N",
                      help="hold out fold K of N seeded signer folds as queries instead of --held_out_signers "
                           "(as train.py --validation_fold)")
    data.add_argument("--query_fraction", type=checked(float, Range(0, 1, low_open=True, high_open=True)),
                      default=0.2,
                      help="share of each class used as queries when signers are unknown or one (default %(default)s)")
    data.add_argument("--k_shot", type=int_list, default=[1, 2, 5],
                      help="reference clips per class for k-shot accuracy, comma-separated (default 1,2,5); '' none")
    add_common(data, "seed")
    data.add_argument("--by_group", action="store_true",
                      help="also score the queries of each gloss group apart: the greetings (hello, thanks, "
                           "iloveyou), the other words and the fingerspelled letters (references unchanged)")

    output = parser.add_argument_group("output and running")
    output.add_argument("--json", default="", help="write every figure and the exact protocol to this JSON file")
    output.add_argument("--plot", default="",
                        help="t-SNE scatter of reference and query embeddings to this HTML file (one per set, "
                             "named FILE_<set>.html, with --per_language)")
    output.add_argument("--plot_max_clips", type=checked(int, at_least(4)), default=5000,
                        help="clips drawn in the t-SNE plot")
    add_common(output, "device", "cache_dir")
    output.add_argument("--batch_size", type=checked(int, at_least(1)), default=256, help="clips per embedding batch")
    return parser


class UsageError(DataError):
    """Flags that do not fit together."""


def check_args(args):
    if bool(args.reference) != bool(args.query):
        raise UsageError("--reference and --query go together")
    if bool(args.data) == bool(args.reference):
        raise UsageError("give either --data FILE, or --reference FILE and --query FILE")
    if not args.checkpoint and not args.baseline_only:
        raise UsageError("--checkpoint is required (or --baseline_only to evaluate the raw-keypoint baseline alone)")
    if args.checkpoint and args.baseline_only:
        raise UsageError("--baseline_only evaluates no checkpoint: drop --checkpoint, or use --baseline")
    if any(k < 1 for k in args.k_shot):
        raise UsageError(f"--k_shot values must be >= 1, got {args.k_shot}")
    inputs = {"--checkpoint": args.checkpoint, "--data": args.data, "--reference": args.reference,
              "--query": args.query}
    for flag in ("json", "plot"):
        refuse_overwriting_inputs(f"--{flag}", getattr(args, flag), inputs)
        check_output_file(f"--{flag}", getattr(args, flag))  # now, not after the whole evaluation


@dataclass
class EvaluationSet:
    """A reference and a query set of one evaluation, with how they were made."""

    name: str
    reference: object
    query: object
    protocol: dict = field(default_factory=dict)


def read_filtered(path, args):
    data = read_sign_files(path, args.cache_dir or None)
    return filter_signs(data, exclude_labels=args.exclude_labels, languages=args.language or None,
                        bsl_letters=args.bsl_letters)


def keep_widespread_glosses(data, parts, min_signers):
    """``parts`` restricted to glosses that ``min_signers`` signers of the whole ``data`` sign."""
    if not min_signers:
        return parts
    kept = np.unique(filter_signs(data, min_signers=min_signers).labels)
    return [part.subset(np.flatnonzero(np.isin(part.labels, kept))) for part in parts]


def signer_names(data):
    return [] if data.signers is None else sorted(np.unique(data.signers).tolist())


def split_set(name, data, args):
    """Split one file into references and queries (before the --min_signers filter, so the split of a
    file is the split train.py makes of it with the same seed and held-out signers)."""
    if not len(data):
        raise DataError(f"{data.source}: no clips left after filtering ({name})")
    try:
        kept, held_out, by_signer = signer_or_stratified_split(
            data.labels, data.signers, args.held_out_signers, args.query_fraction, args.seed, args.held_out_fold
        )
    except DataError as error:  # which signers or folds cannot be made: say of which file, by which flag
        fold = args.held_out_fold
        flag = (f"--held_out_fold {fold[0] + 1}/{fold[1]}" if fold else f"--held_out_signers {args.held_out_signers:g}")
        raise DataError(f"{data.source}: {flag}: {error}") from None
    reference, query = keep_widespread_glosses(data, [data.subset(kept), data.subset(held_out)], args.min_signers)
    protocol = {
        "split": "held-out signers" if by_signer else "stratified by class",
        "cross_signer": by_signer,
        "signers": "cross" if by_signer else "unknown" if data.signers is None else "same",
        "held_out_signers": signer_names(query) if by_signer else [],
        "query_fraction": None if by_signer else args.query_fraction,
    }
    return EvaluationSet(name, reference, query, protocol)


def evaluation_sets(args):
    if args.reference:
        reference, query = (read_filtered(path, args) for path in (args.reference, args.query))
        reference, query = keep_widespread_glosses(reference, [reference, query], args.min_signers)
        known = reference.signers is not None and query.signers is not None
        cross = known and not set(signer_names(reference)) & set(signer_names(query))
        protocol = {"split": "reference and query files", "cross_signer": cross,
                    "signers": "cross" if cross else "same" if known else "unknown"}
        return [EvaluationSet(Path(args.query).name, reference, query, protocol)]
    data = read_filtered(args.data, args)
    name = "+".join(Path(path).name for path in data_files(args.data))
    if not args.per_language:
        return [split_set(" ".join([name] + args.language), data, args)]
    if data.languages is None:
        raise DataError(f"{data.source}: has no language information for --per_language")
    return [
        split_set(f"{name} {language}", data.subset(np.flatnonzero(data.languages == language)), args)
        for language in np.unique(data.languages)
    ]


def k_shot_accuracy(query, query_ids, reference, reference_ids, k, seed):
    """Top-1 and top-5 with ``k`` reference clips per class: mean and spread over seeded draws."""
    draws = []
    for draw in range(K_SHOT_DRAWS):
        chosen = k_shot_selection(reference_ids, k, [seed, k, draw])
        draws.append(nearest_class_accuracy(query, query_ids, reference[chosen], reference_ids[chosen]))
    return {f"{key}{suffix}": float(statistic([d[key] for d in draws]))
            for key in ("top1", "top5") for suffix, statistic in (("", np.mean), ("_std", np.std))}


def group_scores(query, query_ids, reference, reference_ids, groups):
    """Top-1 and top-5 of the queries of each gloss group apart, every reference kept."""
    scored = np.isin(query_ids, reference_ids)
    return {group: {**nearest_class_accuracy(query[members], query_ids[members], reference, reference_ids),
                    "queries": int(members.sum())}
            for group in GLOSS_GROUPS for members in [scored & (groups == group)] if members.any()}


def score(reference, reference_ids, query, query_ids, names, k_shots, seed, groups=None):
    """Every figure of one method on one set, from its embeddings and integer class ids; with the queries'
    gloss ``groups``, also each group's top-1 and top-5."""
    figures = retrieval_scores(query, query_ids, reference, reference_ids)
    if groups is not None:
        figures["groups"] = group_scores(query, query_ids, reference, reference_ids, groups)
    return {
        **figures,
        "silhouette": silhouette(np.concatenate([reference, query]), np.concatenate([reference_ids, query_ids])),
        "silhouette_query": silhouette(query, query_ids),
        "k_shot": {str(k): k_shot_accuracy(query, query_ids, reference, reference_ids, k, seed) for k in k_shots},
        "per_class_top1": {names[label]: value for label, value in figures["per_class_top1"].items()},
    }


def describe(evaluation, reference_ids, query_ids, k_shots=()):
    """The protocol of a set; ``k_shot_short_classes``: per k, the reference classes with fewer than k clips,
    which k-shot draws use whole."""
    reference, query = evaluation.reference, evaluation.query
    scored = np.isin(query_ids, reference_ids)
    _, per_class = np.unique(reference_ids, return_counts=True)
    return {
        **evaluation.protocol,
        "reference_clips": len(reference), "query_clips": len(query), "scored_queries": int(scored.sum()),
        "reference_classes": len(per_class), "scored_classes": len(np.unique(query_ids[scored])),
        "reference_signers": signer_names(reference), "query_signers": signer_names(query),
        "k_shot_short_classes": {str(k): int((per_class < k).sum()) for k in k_shots},
    }


def caveats(protocol):
    """What makes a set's figures mean less than the table suggests, one sentence each (printed under the
    table and kept in --json)."""
    notes = []
    queries = protocol["scored_queries"]
    if queries < FEW_QUERIES:
        notes.append(f"only {queries} scored query clip(s), each moving top-1 by {100 / queries:.0f} points: these "
                     f"figures, the silhouette included, mean little")
    for k, short in protocol["k_shot_short_classes"].items():
        if short:
            notes.append(f"--k_shot {k}: {short} of the {protocol['reference_classes']} reference classes have fewer "
                         f"than {k} clips and use all they have, so {k}-shot is not {k}-shot for them")
    return notes


def evaluate_set(evaluation, embedders, args, device):
    reference_keys, query_keys = class_keys(evaluation.reference, evaluation.query)
    names = sorted(set(reference_keys) | set(query_keys))
    reference_ids, query_ids = label_ids(reference_keys, names), label_ids(query_keys, names)
    if not np.isin(query_ids, reference_ids).any():
        raise DataError(f"{evaluation.name}: no query clip has a class among the references; nothing to score")
    datasets = [ClipDataset(evaluation.reference, reference_ids), ClipDataset(evaluation.query, query_ids)]
    protocol = describe(evaluation, reference_ids, query_ids, args.k_shot)
    result = {"name": evaluation.name, "protocol": protocol, "warnings": caveats(protocol), "methods": {}}
    embeddings = {}
    for method, model in embedders.items():
        reference, query = (embed(model, d, device, args.batch_size) for d in datasets)
        embeddings[method] = (reference, query)
        result["methods"][method] = score(reference, reference_ids, query, query_ids, names, args.k_shot, args.seed,
                                          gloss_groups(evaluation.query.labels) if args.by_group else None)
    return result, embeddings


def plot_set(evaluation, embeddings, path, args):
    reference, query = evaluation.reference, evaluation.query
    vectors = np.concatenate(embeddings)
    keep = subsample(len(vectors), args.plot_max_clips, args.seed)
    signers = None if reference.signers is None or query.signers is None else np.concatenate(
        [reference.signers, query.signers])[keep]
    figure = embedding_scatter(
        vectors[keep], np.concatenate(class_keys(reference, query))[keep],
        np.repeat(["reference", "query"], [len(reference), len(query)])[keep],
        np.concatenate([reference.clip_ids, query.clip_ids])[keep], signers,
        title=f"{evaluation.name}: embeddings (t-SNE)", seed=args.seed,
    )
    return write_figure(figure, path)


def plot_path(base, name, several):
    base = Path(base)
    if not several:
        return base
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return base.with_name(f"{base.stem}_{safe}{base.suffix or '.html'}")


def percent(value):
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def table(results, k_shots):
    columns = ["set", "method", "refs", "queries", "classes", "signers", "top-1", "top-5", "mAP", "class acc",
               "silhouette"] + [f"{k}-shot" for k in k_shots]
    rows = []
    for result in results:
        protocol = result["protocol"]
        signers = {"cross": "cross", "same": "same signer", "unknown": "signers unknown"}[protocol["signers"]]
        for method, figures in result["methods"].items():
            silhouette_value = figures["silhouette"]
            rows.append([
                result["name"], method, str(protocol["reference_clips"]),
                f"{protocol['scored_queries']}/{protocol['query_clips']}", str(protocol["reference_classes"]),
                signers, percent(figures["top1"]), percent(figures["top5"]), percent(figures["mAP"]),
                percent(figures["class_accuracy"]),
                "-" if math.isnan(silhouette_value) else f"{silhouette_value:.3f}",
            ] + [percent(figures["k_shot"][str(k)]["top1"]) for k in k_shots])
    return format_table(columns, rows)


def group_table(results):
    """Top-1 and top-5 of each gloss group (``--by_group``)."""
    rows = [[result["name"], method, group, str(figures["queries"]), percent(figures["top1"]), percent(figures["top5"])]
            for result in results for method, scores in result["methods"].items()
            for group, figures in scores.get("groups", {}).items()]
    return format_table(["set", "method", "gloss group", "queries", "top-1", "top-5"], rows)


def without_nan(value):
    """JSON has no NaN: undefined figures become null."""
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nan(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def build_embedders(args, device):
    embedders = {}
    if args.checkpoint:
        model, _ = load_model(args.checkpoint, device)
        embedders["model"] = model
    if args.baseline or args.baseline_only:
        embedders["baseline"] = RawKeypointEmbedding(args.baseline_frames).to(device)
    return embedders


def run(args):
    """Check the flags, evaluate every set, print the table and write the outputs; returns the results."""
    check_args(args)
    device = resolve_device(args.device)
    embedders = build_embedders(args, device)
    sets = evaluation_sets(args)
    results = []
    for evaluation in sets:
        if len(np.unique(evaluation.reference.labels)) < 2:
            log.warning("%s: skipped, its references hold fewer than two classes (nothing to rank)", evaluation.name)
            continue
        log.info("%s: %d reference and %d query clips", evaluation.name, len(evaluation.reference),
                 len(evaluation.query))
        result, embeddings = evaluate_set(evaluation, embedders, args, device)
        results.append(result)
        if args.plot:
            result["plot"] = str(plot_set(evaluation, embeddings[next(iter(embedders))],
                                          plot_path(args.plot, evaluation.name, len(sets) > 1), args))
    if not results:
        raise DataError(f"{', '.join(evaluation.name for evaluation in sets)}: no set whose references hold two or "
                        f"more classes; nothing to evaluate")
    print(table(results, args.k_shot))
    if args.by_group:
        print("\n" + group_table(results))
    for result in results:
        for note in result["warnings"]:
            print(f"warning: {result['name']}: {note}")
    if args.json:
        write_json(args.json, without_nan({
            "command": sys.argv, "checkpoint": args.checkpoint or None,
            "settings": {key: value for key, value in vars(args).items() if key not in ("json", "device")},
            "metrics": {"distance": "euclidean", "k_shot_draws": K_SHOT_DRAWS,
                        "baseline": f"normalized keypoints resampled to {args.baseline_frames} frames, flattened"},
            "sets": results,
        }))
    return results


def main(argv=None):
    return run_command(run, get_args_parser(), argv)


if __name__ == "__main__":
    main()
