"""Train a SPOTER embedding model (or the SPOTER classifier) on sign keypoints.

    python train.py                      # the recommended recipe on the bundled MIT-licensed ASL data
    bash train.sh                        # the published spoter-embeddings recipe (recipes/published.txt)
    python train.py @recipes/published.txt ...   # the same recipe with any other flags

Outputs go to out-checkpoints/<experiment_name>/: best.pt, last.pt, checkpoint_epoch_<N>.pt,
metrics.jsonl, class_names.json and args.json.
"""
import argparse
import logging
import math
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from augmentations import build_augmentations
from datasets import build_dataset
from datasets.clip_dataset import ClipDataset, bucketed_epoch_order, collate, epoch_order
from datasets.sign_data import DataError
from models import ModelConfig, build_model
from training.checkpoint import load_checkpoint, load_model, save_checkpoint
from training import distributed
from training.engine import EpochPosition, PreBatchMining, SectionTimer, evaluate, train_one_epoch
from training.precision import Precision
from training.schedule import warmup_cosine
from training.losses import build_criterion
from training.mining import MiningScheduler
from utils.cli import comma_list, fold_spec, none_or_str, optional_int
from utils.plots import run_figures
from utils.reproducibility import resolve_device, set_seed
from utils.run_files import append_metrics, truncate_metrics, write_json
from utils.stopping import StopRequest, ignore_interrupts
from utils.trackers import Tracker, build_tracker

log = logging.getLogger("train")


def add_model_flags(group):
    """One flag per :class:`models.ModelConfig` field, with its name, default and help: settings live there."""
    for setting in fields(ModelConfig):
        help = setting.metadata["help"]
        if setting.type is bool:
            group.add_argument(f"--{setting.name}", action=argparse.BooleanOptionalAction, default=setting.default,
                               help=help)
        else:
            kind = float if setting.type is float else int
            group.add_argument(f"--{setting.name}", type=kind, default=setting.default, help=help)


def get_args_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter, fromfile_prefix_chars="@"
    )
    run = parser.add_argument_group("run")
    run.add_argument("--experiment_name", default="spoter_embeddings", help="name of the run and its output folder")
    run.add_argument("--seed", type=int, default=379, help="seed of every random choice; a CPU run is repeatable")
    run.add_argument("--epochs", type=int, default=10, help="number of epochs")
    run.add_argument("--epoch_iters", type=int, default=-1, help="cap on optimizer steps per epoch; -1: whole data")
    run.add_argument("--save_checkpoints_every", type=int, default=-1,
                     help="also keep checkpoint_epoch_<N>.pt every N epochs; -1: never")
    run.add_argument("--tracker", default="none", choices=["none", "clearml"], help="experiment tracker")
    run.add_argument("--execute_remotely", default="", metavar="QUEUE",
                     help="with --tracker clearml: enqueue the run on this ClearML agent queue and stop here")
    run.add_argument("--output_dir", default="out-checkpoints", help="runs are written to <output_dir>/<experiment_name>")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in the experiment folder from its last.pt, exactly where it stopped")
    run.add_argument("--overwrite", action="store_true", help="replace the files of an existing experiment folder")
    run.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    run.add_argument("--num_workers", type=int, default=0, help="data loading worker processes")
    run.add_argument("--eval_max_clips", type=int, default=0,
                     help="training clips embedded each epoch as nearest-class references and for the train "
                          "silhouette; 0: all, so validation scores exactly as evaluate.py does")
    run.add_argument("--no_progress", action="store_true", help="no progress bars (logs only)")

    data = parser.add_argument_group("data")
    data.add_argument("--dataset_name", default="", help="folder under $BASE_DATA_FOLDER holding the data files")
    data.add_argument("--dataset_project", default="Sign Language Recognition", help="ClearML dataset project")
    data.add_argument("--dataset_loader", default="local", choices=["local", "clearml"], help="where data comes from")
    data.add_argument("--training_set_path", default="",
                      help="SPOTER CSV (.csv, .csv.gz) or MediaPipe .npz; empty: the bundled data/asl_mit set")
    data.add_argument("--validation_set_path", default="",
                      help="validation file; empty: split the training data (by signer when known)")
    data.add_argument("--validation_signers", type=float, default=0.2,
                      help="signers held out when splitting: a count (>= 1) or a fraction (< 1)")
    data.add_argument("--validation_fold", type=fold_spec, default=None, metavar="K/N",
                      help="hold out fold K of N seeded signer folds instead of --validation_signers "
                           "(leave-signers-out cross-validation; see cross_validate.py)")
    data.add_argument("--validation_fraction", type=float, default=0.2,
                      help="share of each class held out when signers are unknown")
    data.add_argument("--exclude_labels", type=comma_list, default=["_idle"], help="comma-separated labels to drop")
    data.add_argument("--min_clips_per_class", type=int, default=0,
                      help="drop training classes with fewer clips (2 makes every class usable for triplets)")
    data.add_argument("--clips_per_class", type=int, default=4,
                      help="batches hold runs of this many clips per class, spread over signers (P classes x K "
                           "clips); 0: plain shuffle (published)")
    data.add_argument("--cache_dir", default="", help="parsed-data cache; empty: $SPOTER_CACHE_DIR or ~/.cache")

    add_model_flags(parser.add_argument_group("model"))

    loss = parser.add_argument_group("loss and mining")
    loss.add_argument("--loss", default="supcon", choices=["triplet", "supcon", "proxy", "supcon+proxy"],
                      help="triplet: the published triplet loss (see --hard_triplet_mining); supcon: supervised "
                           "contrastive over every pair of the batch; proxy: normalized softmax over one learned "
                           "proxy per class with a cosine margin; supcon+proxy: their sum")
    loss.add_argument("--temperature", type=float, default=0.1, help="supcon: softmax temperature")
    loss.add_argument("--proxy_temperature", type=float, default=0.05, help="proxy: softmax temperature")
    loss.add_argument("--proxy_margin", type=float, default=0.1, help="proxy: cosine margin of the true class")
    loss.add_argument("--hard_triplet_mining", type=none_or_str, default="in_batch", choices=[None, "in_batch"],
                      help="None: one sampled triplet per anchor; in_batch: every valid triplet of the batch")
    loss.add_argument("--triplet_loss_margin", type=float, default=1.0, help="triplet loss margin")
    loss.add_argument("--filter_easy_triplets", action=argparse.BooleanOptionalAction, default=True,
                      help="average the in-batch loss over margin-violating triplets only")
    loss.add_argument("--start_mining_hard", type=optional_int, default=None,
                      help="epoch from which pre-batch hard mining is used; None: never")
    loss.add_argument("--hard_mining_pre_batch_multipler", type=int, default=16,
                      help="a pre-batch holds batch_size times this many clips")
    loss.add_argument("--hard_mining_pre_batch_mining_count", type=int, default=5,
                      help="passes over the batches mined from each pre-batch")
    loss.add_argument("--hard_mining_scheduler_triplets_threshold", type=float, default=0.0,
                      help="lower the mining threshold when an epoch's used triplets (percent) fall below this")

    optim = parser.add_argument_group("optimization")
    optim.add_argument("--batch_size", type=int, default=128, help="clips per optimizer step")
    optim.add_argument("--optimizer", default="ADAMW", choices=["SGD", "ADAM", "ADAMW"], help="optimizer")
    optim.add_argument("--lr", type=float, default=0.001, help="(peak) learning rate")
    optim.add_argument("--weight_decay", type=float, default=0.05, help="ADAMW: decoupled weight decay")
    optim.add_argument("--lr_schedule", default="cosine", choices=["plateau", "cosine"],
                       help="plateau: cut the LR when the validation metric stalls (published, see --scheduler_*); "
                            "cosine: linear warm-up, then cosine decay to 0 over the run, per step")
    optim.add_argument("--warmup_fraction", type=float, default=0.1, help="cosine: share of the steps spent warming up")
    optim.add_argument("--scheduler_factor", type=float, default=0.2, help="ReduceLROnPlateau factor")
    optim.add_argument("--scheduler_patience", type=int, default=10, help="ReduceLROnPlateau patience (epochs)")
    optim.add_argument("--scheduler_warmup", type=int, default=400, help="epochs before the LR scheduler acts")

    augment = parser.add_argument_group("augmentation")
    augment.add_argument("--augmentations_prob", type=float, default=0.75,
                         help="probability of one geometric augmentation (and noise) per clip")
    augment.add_argument("--mirror_prob", type=float, default=0.0,
                         help="probability of a left/right mirror (hands swapped) per clip; --canonical_handedness "
                              "undoes it, so it only matters without that")
    augment.add_argument("--hand_warp_prob", type=float, default=0.5,
                         help="probability of turning and stretching each hand about its wrist, hands independently")
    augment.add_argument("--hand_drop_prob", type=float, default=0.5,
                         help="probability of losing one hand over a run of up to half the frames")
    augment.add_argument("--time_stretch_prob", type=float, default=0.5,
                         help="probability of resampling a clip to 2/3-1.5x its length, so length says nothing of the gloss")
    augment.add_argument("--gaussian_mean", type=float, default=0.0, help="mean of the coordinate noise")
    augment.add_argument("--gaussian_std", type=float, default=0.001, help="spread of the coordinate noise")

    scale = parser.add_argument_group(
        "scale", "several processes: torchrun --nproc_per_node=N train.py ... (each rank trains --batch_size "
                 "clips per step: the effective batch is batch_size x N; see README, Scaling out)")
    scale.add_argument("--amp", action="store_true",
                       help="mixed precision: bfloat16 autocast (float16 with loss scaling on GPUs without "
                            "bfloat16; bfloat16 on CPUs, faster only on those with bfloat16 units)")
    scale.add_argument("--compile", action="store_true", help="train through torch.compile (first steps compile)")
    scale.add_argument("--bucket_by_length", action="store_true",
                       help="training batches of clips of similar length (shuffled buckets; keeps "
                            "--clips_per_class runs), so short clips stop paying for the longest of a batch")
    return parser


def build_optimizer(args, parameters):
    if args.optimizer == "ADAMW":
        return torch.optim.AdamW(parameters, lr=args.lr, weight_decay=args.weight_decay)
    if args.optimizer == "ADAM":
        return torch.optim.Adam(parameters, lr=args.lr)
    return torch.optim.SGD(parameters, lr=args.lr)


def trainable_parameters(model, criterion):
    """The model's parameters, and the loss's own (class proxies) when it has any."""
    extra = list(criterion.parameters()) if isinstance(criterion, torch.nn.Module) else []
    return list(model.parameters()) + extra


def criterion_state(criterion):
    return criterion.state_dict() if isinstance(criterion, torch.nn.Module) else {}


def build_schedulers(args, optimizer, steps_per_epoch):
    """``(per-step scheduler or None, per-epoch plateau scheduler or None)``."""
    if args.lr_schedule == "cosine":
        return warmup_cosine(optimizer, args.epochs * steps_per_epoch, args.warmup_fraction), None
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=args.scheduler_factor, patience=args.scheduler_patience
    )
    return None, plateau


def prepare_run_folder(args):
    folder = Path(args.output_dir) / args.experiment_name
    if folder.exists() and any(folder.iterdir()) and not (args.resume or args.overwrite):
        raise SystemExit(
            f"error: {folder} already holds a run; pass --resume to continue it, --overwrite to replace it, "
            f"or choose another --experiment_name"
        )
    if args.overwrite and not args.resume:
        (folder / "metrics.jsonl").unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def training_state(args, model, criterion, optimizer, scheduler, mining_scheduler, epoch, best, names, precision,
                   partial_epoch=None):
    """What a checkpoint holds; ``epoch`` is the last completed epoch, ``partial_epoch`` the position of a
    run stopped within the next one."""
    return dict(
        config=ModelConfig.from_args(args).to_dict(), model=model.state_dict(), criterion=criterion_state(criterion),
        class_names=list(names), epoch=epoch,
        best_metric=best, optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
        mining_scheduler=mining_scheduler.state_dict(), precision=precision.state_dict(), args=vars(args),
        partial_epoch=partial_epoch,
    )


def log_epoch(epoch, args, record):
    parts = [f"epoch {epoch}/{args.epochs}", f"loss {record['train_loss']:.4f}",
             f"silhouette train {record['silhouette_train']:.4f} val {record['silhouette_val']:.4f}",
             f"val top1 {record['val_top1']:.3f} top5 {record['val_top5']:.3f} mAP {record['val_mAP']:.3f}"]
    if "valid_triplets" in record:
        parts.append(f"triplets {record['used_triplets']}/{record['valid_triplets']} ({record['pct_used']:.1f}%)")
    parts += [f"lr {record['lr']:.2e}", f"{record['seconds']:.1f}s"]
    log.info(" | ".join(parts))


def main(args):
    context, device = distributed.init_from_environment(resolve_device(args.device))
    # First: on a ClearML agent (--execute_remotely) log_config replaces the arguments with the enqueued run's.
    tracker = build_tracker(args) if context.is_main else Tracker()
    tracker.log_config(vars(args))
    set_seed(args.seed)
    folder = prepare_run_folder(args) if context.is_main else Path(args.output_dir) / args.experiment_name
    try:
        with StopRequest() as stop:
            model = train(args, device, folder, tracker, context, stop)
    except BaseException:
        tracker.close(failed=True)
        raise
    finally:
        distributed.close(context)
    tracker.close()
    if stop.requested:
        log.warning("stopped by %s; last.pt holds the run so far. Continue it with:\n    %s",
                    stop.signal_name, distributed.resume_command(context))
        sys.exit(stop.exit_code)
    return model


def steps_per_epoch(args, clips):
    """Optimizer steps of an epoch without mining (the last partial batch is dropped)."""
    steps = max(1, clips // args.batch_size)
    return min(steps, args.epoch_iters) if args.epoch_iters > 0 else steps


def epoch_loader(args, train_set, signers, epoch, mining_scheduler, context=distributed.Context(), skip=0):
    """This epoch's batches (this rank's shard; without the first ``skip`` of them), and the pre-batch
    mining that regroups them once mining has started."""
    mining = None
    batch_size = args.batch_size
    if args.start_mining_hard is not None and epoch >= args.start_mining_hard:
        mining = PreBatchMining(args.batch_size, args.hard_mining_pre_batch_mining_count, mining_scheduler, args.seed)
        batch_size *= args.hard_mining_pre_batch_multipler
    if args.bucket_by_length:
        order = bucketed_epoch_order(train_set.data.lengths, train_set.class_ids, args.seed, epoch, batch_size,
                                     args.clips_per_class, signers)
    else:
        order = epoch_order(train_set.class_ids, args.seed, epoch, args.clips_per_class, signers)
    order = distributed.shard(order, context, batch_size, args.batch_size)
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=batch_size, sampler=order[skip * batch_size:].tolist(), collate_fn=collate,
        num_workers=args.num_workers, drop_last=mining is None and len(order) > batch_size,
        worker_init_fn=ignore_interrupts,
    )
    return loader, mining


def reference_subset(args, data, class_ids):
    """The training clips embedded each epoch for the train silhouette and as nearest-class references."""
    references = np.arange(len(data))
    if 0 < args.eval_max_clips < len(data):
        references = np.sort(np.random.default_rng(args.seed).permutation(references)[: args.eval_max_clips])
    return ClipDataset(data.subset(references), class_ids[references])


def update_best(value, best, key):
    """``(whether this epoch becomes best.pt, the best value so far)``; while the metric is undefined (NaN),
    best.pt follows the latest epoch."""
    if math.isnan(value):
        log.warning("%s is undefined (e.g. one clip per validation class): best.pt follows the latest epoch", key)
        return True, best
    return value > best, max(value, best)


def save_epoch_checkpoints(folder, args, state, epoch, new_best):
    if new_best:
        save_checkpoint(folder / "best.pt", **state)
    if args.save_checkpoints_every > 0 and epoch % args.save_checkpoints_every == 0:
        save_checkpoint(folder / f"checkpoint_epoch_{epoch}.pt", **state)
    save_checkpoint(folder / "last.pt", **state)


def restore(folder, device, model, criterion, optimizer, scheduler, mining_scheduler, precision, is_main=True):
    """Load last.pt into the training objects; returns the next epoch, the best metric so far and, for a
    run stopped within that epoch, where it stopped (an EpochPosition)."""
    state = load_checkpoint(folder / "last.pt", map_location=device)
    model.load_state_dict(state["model"])
    if isinstance(criterion, torch.nn.Module):
        criterion.load_state_dict(state["criterion"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    mining_scheduler.load_state_dict(state["mining_scheduler"])
    precision.load_state_dict(state.get("precision"))
    if is_main:
        truncate_metrics(folder / "metrics.jsonl", state["epoch"])
    position = state.get("partial_epoch")
    position = None if position is None else EpochPosition.from_state_dict(position)
    log.info("resuming %s after epoch %d%s", folder, state["epoch"],
             f" and {position.batches} batches of epoch {state['epoch'] + 1}" if position else "")
    return state["epoch"] + 1, state["best_metric"], position


def validate(model, eval_train_set, validation_set, device, classification, context):
    """Rank 0 validates; the other ranks receive its figures (a plateau schedule steps on them)."""
    metrics = evaluate(model, eval_train_set, validation_set, device, classification) if context.is_main else None
    return distributed.broadcast_from_main(metrics, context)


def finish(folder, device, tracker, eval_train_set, validation_set, seed):
    """Hand the run's files and the best model's plots to the tracker."""
    tracker.log_artifact("metrics", folder / "metrics.jsonl")
    if (folder / "best.pt").exists():
        tracker.log_model(folder / "best.pt", "best")
        best_model, _ = load_model(folder / "best.pt", device)
        for title, figure in run_figures(best_model, eval_train_set, validation_set, device, folder, seed).items():
            tracker.log_figure(title, figure)


def train(args, device, folder, tracker, context=distributed.Context(), stop=None):
    """Train; returns the model (unwrapped), as trained when the run ended or stopped."""
    data_folder = None
    if args.dataset_loader == "clearml":
        from datasets.clearml_loader import download_dataset

        data_folder = download_dataset(args.dataset_project, args.dataset_name)
    data = build_dataset(args, data_folder)
    if args.num_classes is None:
        args.num_classes = len(data.class_names)
    log.info("training on %d clips, validating on %d clips, %d classes (%s)",
             len(data.train), len(data.validation), len(data.class_names), data.train.source)
    if context.is_main:
        write_json(folder / "class_names.json", {str(i): name for i, name in enumerate(data.class_names)})
        write_json(folder / "args.json", vars(args))

    train_set = ClipDataset(data.train, data.class_ids(data.train.labels), build_augmentations(args), args.seed)
    eval_train_set = reference_subset(args, data.train, train_set.class_ids)
    validation_set = ClipDataset(data.validation, data.class_ids(data.validation.labels))

    model = build_model(ModelConfig.from_args(args)).to(device)
    trained = distributed.wrap(model, context, device)
    if args.compile:
        trained = torch.compile(trained, dynamic=True)  # clip lengths vary from batch to batch
    precision = Precision(device, args.amp)
    criterion = build_criterion(args)
    if isinstance(criterion, torch.nn.Module):
        criterion.to(device)
    optimizer = build_optimizer(args, trainable_parameters(model, criterion))
    steps = steps_per_epoch(args, len(train_set) // context.world_size)
    step_scheduler, plateau = build_schedulers(args, optimizer, steps)
    scheduler = step_scheduler or plateau
    mining_scheduler = MiningScheduler(args.hard_mining_scheduler_triplets_threshold)
    batch_loss = distributed.global_batch_loss(criterion, context)
    start_epoch, best, position = 1, float("-inf"), None
    if args.resume:
        start_epoch, best, position = restore(folder, device, model, criterion, optimizer, scheduler,
                                              mining_scheduler, precision, context.is_main)
    best_key = "val_accuracy" if args.classification_model else "silhouette_val"
    stop = stop or StopRequest()

    def should_stop():  # every rank stops at the same step, whichever got the signal
        return distributed.any_rank(stop.requested, context, device)

    log.info("%d process(es) x batch %d = effective batch %d; %s", context.world_size, args.batch_size,
             context.world_size * args.batch_size, precision.name)

    for epoch in range(start_epoch, args.epochs + 1):
        started = time.time()
        set_seed(args.seed + epoch)
        train_set.set_epoch(epoch)
        position = position or EpochPosition()
        loader, mining = epoch_loader(args, train_set, data.train.signers, epoch, mining_scheduler, context,
                                      position.batches)
        timer = SectionTimer(device)
        record = {"epoch": epoch}
        record.update(train_one_epoch(trained, loader, optimizer, batch_loss, device, epoch, args.epoch_iters,
                                      mining, timer, progress=not args.no_progress and context.is_main,
                                      scheduler=step_scheduler, precision=precision, position=position,
                                      should_stop=should_stop))
        if position.stopped:
            if context.is_main:  # last.pt: the epochs done, and where this one stopped
                save_checkpoint(folder / "last.pt", **training_state(
                    args, model, criterion, optimizer, scheduler, mining_scheduler, epoch - 1, best, data.class_names,
                    precision, dict(position.state_dict(), epoch=epoch)))
            log.info("epoch %d stopped after %d of its steps", epoch, record["steps"])
            return model
        position = None
        record.update(validate(model, eval_train_set, validation_set, device, args.classification_model, context))
        if mining:
            record["mining_threshold"] = mining_scheduler.threshold
            mining_scheduler.step(record.get("pct_used", 100.0))
        record["lr"] = optimizer.param_groups[0]["lr"]
        if plateau is not None and epoch >= args.scheduler_warmup:
            plateau.step(record[best_key])
        record["seconds"] = time.time() - started
        record.update({f"seconds_{name}": value for name, value in timer.seconds.items()})
        if context.is_main:
            new_best, best = update_best(record[best_key], best, best_key)
            log_epoch(epoch, args, record)
            append_metrics(folder / "metrics.jsonl", record)
            tracker.log_metrics(epoch, record)
            state = training_state(args, model, criterion, optimizer, scheduler, mining_scheduler, epoch, best,
                                   data.class_names, precision)
            save_epoch_checkpoints(folder, args, state, epoch, new_best)
        if should_stop():
            return model
    log.info("best %s %.4f; checkpoints in %s", best_key, best, folder)
    if context.is_main:
        finish(folder, device, tracker, eval_train_set, validation_set, args.seed)
    return model


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    arguments = get_args_parser().parse_args()
    try:
        main(arguments)
    except DataError as error:
        log.error("%s", error)
        sys.exit(2)
