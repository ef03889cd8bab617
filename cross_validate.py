"""Leave-signers-out cross-validation: train on all signers but one fold, evaluate on that fold, repeat.

    python cross_validate.py --data ../shared/data/signs/asl.npz --folds 5 --name recommended
    python cross_validate.py --data ../shared/data/signs/asl.npz --folds 5 --name published -- \\
        @recipes/published.txt
    python cross_validate.py --data ../shared/data/signs/asl.npz --folds 5 --only 1,2 --name no_conv -- --conv_layers 0
    python cross_validate.py --train_also ../shared/data/signs/asl_crowd.npz --name crowd   # more people, same folds
    python cross_validate.py --data ../shared/data/signs/asl.npz,../shared/data/signs/asl_crowd.npz --by_group \
        --name all_signers                                                              # folds over every signer

Everything after ``--`` goes to train.py unchanged, so a recipe is named exactly as it is trained. Signers are
dealt into ``--folds`` seeded groups (``datasets.splits.signer_folds``); fold K trains with
``--validation_fold K/N`` and is scored by evaluate.py's code on the same split: the model's ``last.pt``
(not ``best.pt``, which was chosen on the held-out signers themselves) and the raw-keypoint baseline.

``--data`` may name several files (comma-separated): their signers are dealt into folds together.
``--train_also FILE,...`` adds files whose signers are never held out: every fold trains on them too
(train.py's ``--extra_training_path``), while folds and scoring stay those of ``--data``. ``--by_group``
also reports the greetings (hello, thanks, iloveyou), the other words and the letters apart.

With ``--zero_shot FILE ...`` each fold's model is also scored on those files, one row per language
(``evaluate.py --per_language``: signers held out where a language has several, else a stratified split),
so zero-shot figures come as a mean over the fold models too.

Writes ``<output>/<name>/fold_K.json`` (evaluate.py's JSON) per fold, ``fold_K_zero_shot_<file>.json`` and
``summary.json``; a fold whose JSON exists is not run again, and a fold whose training was interrupted resumes
from its ``last.pt`` (train.py's ``--resume``), so an interrupted run continues where it stopped. ``study.json``
records the flags the figures depend on: finished folds are never averaged with folds of other flags (refused).
"""
import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

import evaluate
import train
from datasets import read_sign_files, resolve_path
from datasets.sign_data import SignData
from utils.errors import DataError
from utils.cli import Parser, int_list, run_command
from utils.settings import add_common, at_least, checked
from utils.run_files import write_json

log = logging.getLogger("cross_validate")
FIGURES = ("top1", "top5", "mAP")
# The flags that make a study's figures what they are (not --only, --zero_shot, --output, --name): the finished
# folds of a study were all run with the same ones, or their figures would be averaged as if of one recipe.
STUDY_FLAGS = ("data", "train_also", "folds", "seed", "training_seed", "bsl_letters", "baseline_only", "by_group",
               "train_flags")
STUDY_RECORD = "study.json"


def get_args_parser():
    parser = Parser(prog="cross_validate.py", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/signs/asl.npz",
                        help="file(s) with signer ids to fold, comma-separated")
    parser.add_argument("--train_also", default="",
                        help="comma-separated files every fold also trains on (their signers never held out)")
    parser.add_argument("--by_group", action="store_true",
                        help="also report the greetings, the other words and the letters apart")
    parser.add_argument("--folds", type=checked(int, at_least(2)), default=5, help="signer folds (default %(default)s)")
    parser.add_argument("--only", type=int_list, default=[], help="run only these folds (1-based, comma-separated)")
    add_common(parser, "seed", "bsl_letters")
    parser.add_argument("--training_seed", type=checked(int, at_least(0)), default=None,
                        help="seed of the training runs alone (model, shuffling, augmentation), the folds staying "
                             "those of --seed; default: --seed. What a seed moves, on the same folds")
    parser.add_argument("--name", default="recommended", help="name of this recipe's results folder")
    parser.add_argument("--output", default="out-cv", help="results go to <output>/<name>/ (default %(default)s)")
    parser.add_argument("--baseline_only", action="store_true", help="score the raw-keypoint baseline alone")
    parser.add_argument("--zero_shot", nargs="*", default=[], metavar="FILE",
                        help="also score each fold's model on these files, per language")
    parser.add_argument("train_flags", nargs=argparse.REMAINDER, help="-- then train.py flags")
    return parser


def train_fold(args, fold, folder):
    """Train fold ``fold``; a fold whose training was interrupted (a ``last.pt`` but no scores yet) resumes,
    and train.py refuses to resume it under a different recipe."""
    interrupted = (folder / f"fold_{fold}" / "last.pt").is_file()
    flags = [flag for flag in args.train_flags if flag != "--"] + [
        "--training_set_path", args.data, "--validation_set_path", "", "--seed", str(args.seed),
        "--bsl_letters", ",".join(args.bsl_letters),
        "--validation_fold", f"{fold}/{args.folds}", "--output_dir", str(folder), "--experiment_name", f"fold_{fold}",
        "--resume" if interrupted else "--overwrite", "--no_progress", "--tracker", "none",
    ]
    if args.train_also:
        flags += ["--extra_training_path", args.train_also]
    if args.training_seed is not None:
        flags += ["--seed", str(args.training_seed), "--split_seed", str(args.seed)]
    train.main(train.get_args_parser().parse_args(flags))
    return folder / f"fold_{fold}" / "last.pt"


def evaluate_fold(args, checkpoint, path, data_flags):
    flags = data_flags + ["--seed", str(args.seed), "--bsl_letters", ",".join(args.bsl_letters), "--k_shot", "",
                          "--json", str(path)]
    flags += ["--baseline_only"] if checkpoint is None else ["--checkpoint", str(checkpoint), "--baseline"]
    flags += ["--by_group"] if args.by_group else []
    evaluate.run(evaluate.get_args_parser().parse_args(flags))


def set_methods(path):
    """``{set name: {method: {figure: value}}}`` of one evaluate.py JSON; a gloss group's figures (``--by_group``)
    come as the method ``<method> <group>`` (mAP undefined)."""
    sets = {}
    for evaluation in json.loads(Path(path).read_text())["sets"]:
        methods = sets.setdefault(evaluation["name"], {})
        for method, figures in evaluation["methods"].items():
            methods[method] = {key: figures[key] for key in FIGURES}
            for group, scores in figures.get("groups", {}).items():
                methods[f"{method} {group}"] = {key: scores.get(key, float("nan")) for key in FIGURES}
    return sets


def fold_statistics(values):
    """Mean, spread and smallest of the folds that have a value (a fold whose signers sign no letter has no
    letters row); ``folds`` keeps None in the place of the others."""
    present = [value for value in values if value is not None and not np.isnan(value)]
    summary = (lambda statistic: float(statistic(present)) if present else float("nan"))
    return {"mean": summary(np.mean), "std": summary(np.std), "min": summary(np.min),
            "folds": [value if value in present else None for value in values]}


def figure(fold, method, key):
    return fold.get(method, {}).get(key)


def margins(per_fold, method, key):
    """The model's lead over the baseline in ``key``, fold by fold (``method`` names the model's row)."""
    baseline = method.replace("model", "baseline", 1)
    pairs = [(figure(fold, method, key), figure(fold, baseline, key)) for fold in per_fold]
    return fold_statistics([None if None in pair else pair[0] - pair[1] for pair in pairs])


def summarize(per_fold):
    """Mean, spread and per-fold values of each figure and method; the model's margins over the baseline
    (``top1_margin``, and ``margins`` for every row that has a baseline row)."""
    methods = list(dict.fromkeys(method for fold in per_fold for method in fold))
    summary = {method: {key: fold_statistics([figure(fold, method, key) for fold in per_fold]) for key in FIGURES}
               for method in methods}
    paired = [method for method in methods
              if method.startswith("model") and method.replace("model", "baseline", 1) in methods]
    if "model" in paired:
        summary["top1_margin"] = margins(per_fold, "model", "top1")
    if paired:
        summary["margins"] = {method: {key: margins(per_fold, method, key) for key in ("top1", "top5")}
                              for method in paired}
    return summary


def validation_curves(folder, folds):
    """Each fold's validation top-1 and top-5 after every epoch (train.py's ``metrics.jsonl``; references: the
    fold's training clips), for the folds trained here."""
    curves = {}
    for fold in folds:
        metrics = folder / f"fold_{fold}" / "metrics.jsonl"
        if metrics.is_file():
            records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
            curves[str(fold)] = {key: [record[f"val_{key}"] for record in records] for key in ("top1", "top5")}
    return curves


def curve_table(curves):
    """Mean validation top-1 and top-5 by epoch over the folds that trained every epoch."""
    epochs = min(len(curve["top1"]) for curve in curves.values())
    lines = ["validation on the held-out signers by epoch (train.py's, mean over folds " + ", ".join(curves) + ")",
             "epoch " + " ".join(f"{epoch:>6d}" for epoch in range(1, epochs + 1))]
    for key in ("top1", "top5"):
        means = np.mean([curve[key][:epochs] for curve in curves.values()], axis=0)
        lines.append(f"{key:5s} " + " ".join(f"{value:6.3f}" for value in means))
    return "\n".join(lines)


def table(summary, title):
    rows = [method for method in summary if method not in ("top1_margin", "margins")]
    width = max(10, *(len(method) for method in rows))
    lines = [f"{'method':{width}s} " + " ".join(f"{key + ' mean±std':>16s}" for key in FIGURES) + "   per-fold top-1"]
    for method in rows:
        figures = summary[method]
        cells = " ".join(f"{figures[k]['mean']:>9.3f}±{figures[k]['std']:.3f}" for k in FIGURES)
        lines.append(f"{method:{width}s} {cells}   " + " ".join("-" if v is None else f"{v:.3f}"
                                                                 for v in figures["top1"]["folds"]))
    for method, lead in summary.get("margins", {}).items():
        lines.append(f"{method} - baseline: top-1 mean {lead['top1']['mean']:+.3f} (smallest fold "
                     f"{lead['top1']['min']:+.3f}), top-5 mean {lead['top5']['mean']:+.3f} (smallest fold "
                     f"{lead['top5']['min']:+.3f})")
    return title + "\n" + "\n".join(lines)


def check_study(args):
    """The folds to run. Refused before any folder or fold: --only outside the folds, data files that are missing,
    unreadable or cannot be joined, and signers of --data too few for --folds."""
    folds = args.only or list(range(1, args.folds + 1))
    if any(not 1 <= fold <= args.folds for fold in folds):
        raise DataError(f"--only {','.join(map(str, folds))}: folds are numbered 1 to --folds {args.folds}")
    data = read_sign_files(args.data, progress=False)
    if args.train_also:  # found as train.py finds it, joined as train.py joins it
        SignData.join([data, read_sign_files(args.train_also, resolve=resolve_path, progress=False)])
    for path in args.zero_shot:
        read_sign_files(path, progress=False)
    signers = 0 if data.signers is None else len(np.unique(data.signers))
    if signers < args.folds:
        raise DataError(f"--folds {args.folds}: --data {args.data} has {signers} known signer(s); leave-signers-out "
                        f"folds need at least as many signers as folds")
    return folds


def study_flags(args):
    """This study's :data:`STUDY_FLAGS`, as JSON gives them back; a baseline study trains nothing, so the training
    flags are none of its."""
    training = ("train_also", "training_seed", "train_flags") if args.baseline_only else ()
    return json.loads(json.dumps({name: getattr(args, name) for name in STUDY_FLAGS if name not in training}))


def check_resumed_study(folder, args):
    """Refuse to add to a study whose finished folds were run with other flags; else record this study's flags.
    A folder without finished folds takes the new flags (a fold whose training was interrupted may resume with
    more epochs: train.py checks that resume)."""
    record, flags = folder / STUDY_RECORD, study_flags(args)
    finished = sorted(path.name for path in folder.glob("fold_*.json"))
    if finished and record.is_file():
        try:
            before = json.loads(record.read_text())
        except (OSError, ValueError) as error:
            raise DataError(f"{record}: not readable JSON ({error}); delete it to adopt this study's flags") from None
        if not isinstance(before, dict):
            before = {}
        changed = [f"--{name} {before.get(name)!r} (now {flags.get(name)!r})"
                   for name in STUDY_FLAGS if before.get(name) != flags.get(name)]
        if changed:
            raise DataError(f"{folder}: its finished folds ({', '.join(finished)}) were run with other flags: "
                            f"{'; '.join(changed)}; use another --name, or delete those files to run them again")
    write_json(record, flags)


def run(args):
    folds = check_study(args)
    folder = Path(args.output) / args.name
    folder.mkdir(parents=True, exist_ok=True)
    check_resumed_study(folder, args)
    per_fold, zero_shot = [], {}
    for fold in folds:
        path = folder / f"fold_{fold}.json"
        checkpoint = None if args.baseline_only else folder / f"fold_{fold}" / "last.pt"
        if not path.exists():
            log.info("fold %d/%d: training", fold, args.folds)
            if checkpoint is not None:
                train_fold(args, fold, folder)
            evaluate_fold(args, checkpoint, path, ["--data", args.data, "--held_out_fold", f"{fold}/{args.folds}"])
        (per_fold_sets,) = set_methods(path).values()
        per_fold.append(per_fold_sets)
        for data in args.zero_shot:
            zero_path = folder / f"fold_{fold}_zero_shot_{Path(data).stem}.json"
            if not zero_path.exists():
                evaluate_fold(args, checkpoint, zero_path, ["--data", data, "--per_language"])
            for name, methods in set_methods(zero_path).items():
                zero_shot.setdefault(name, []).append(methods)
    summary = summarize(per_fold)
    zero_shot = {name: summarize(sets) for name, sets in zero_shot.items()}
    curves = validation_curves(folder, folds)
    write_json(folder / "summary.json", {"command": sys.argv, "folds": folds, "of": args.folds, "seed": args.seed,
                                         "train_flags": args.train_flags, "summary": summary, "zero_shot": zero_shot,
                                         "validation_curves": curves})
    fold_names = ", ".join(map(str, folds))
    print(table(summary, f"held-out signers of {args.data}, folds {fold_names} of {args.folds}"))
    for name, figures in zero_shot.items():
        print("\n" + table(figures, f"zero-shot {name}: mean over the models of folds {fold_names}"))
    if curves:
        print("\n" + curve_table(curves))
    return summary


def main(argv=None):
    return run_command(run, get_args_parser(), argv)


if __name__ == "__main__":
    main()
