"""Train a SPOTER embedding model (or the SPOTER classifier) on sign keypoints.

    python train.py                      # the recommended recipe on the bundled MIT-licensed ASL data
    bash train.sh                        # the published spoter-embeddings recipe (recipes/published.txt)
    python train.py @recipes/published.txt ...   # the same recipe with any other flags

Outputs go to out-checkpoints/<experiment_name>/: best.pt, last.pt, checkpoint_epoch_<N>.pt,
metrics.jsonl, class_names.json and args.json.
"""
import dataclasses
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from augmentations import build_augmentations
from datasets import build_dataset
from datasets.clip_dataset import ClipDataset, bucketed_epoch_order, collate, epoch_clip_count, epoch_order
from models import ModelConfig, build_model
from models.checkpoint import load_model, save_checkpoint
from retrieval.embedding import embed
from training import distributed
from training.engine import EpochPosition, PreBatchMining, SectionTimer, evaluate, train_one_epoch
from training.losses import build_criterion
from training.mining import MiningScheduler
from training.precision import Precision
from training.recipe import GROUPS, RecipeConfig, build_configs
from training.run_folder import RunFolder, check_resumable
from training.schedule import warmup_cosine
from utils import settings
from utils.cli import Parser, run_command
from utils.plots import RUN_FIGURES, figure_file, run_figures
from utils.reproducibility import resolve_device, set_seed
from utils.run_files import append_metrics, truncate_metrics, write_json
from utils.stopping import StopRequest, ignore_interrupts
from utils.trackers import Tracker, build_tracker

log = logging.getLogger("train")


def get_args_parser():
    """Every flag comes from a settings dataclass (:class:`training.recipe.RecipeConfig`, :class:`ModelConfig`):
    name, default, help and accepted values are defined there, once."""
    parser = Parser(prog="train.py", description=__doc__, fromfile_prefix_chars="@")
    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    settings.add_flags(parser, RecipeConfig, groups=groups)
    settings.add_flags(parser, ModelConfig, default_group="model", groups=groups)
    return parser


def build_optimizer(recipe, parameters):
    if recipe.optimizer == "ADAMW":
        return torch.optim.AdamW(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "ADAM":
        return torch.optim.Adam(parameters, lr=recipe.lr)
    return torch.optim.SGD(parameters, lr=recipe.lr)


def trainable_parameters(model, criterion):
    """The model's parameters, and the loss's own (class proxies) when it has any."""
    return list(model.parameters()) + list(criterion.parameters())


def build_schedulers(recipe, optimizer, steps_per_epoch):
    """``(per-step scheduler or None, per-epoch plateau scheduler or None)``."""
    if recipe.lr_schedule == "cosine":
        return warmup_cosine(optimizer, recipe.epochs * steps_per_epoch, recipe.warmup_fraction), None
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=recipe.scheduler_factor, patience=recipe.scheduler_patience
    )
    return None, plateau


def training_state(recipe, model_config, model, criterion, optimizer, scheduler, mining_scheduler, epoch, best, data,
                   precision, partial_epoch=None):
    """What a checkpoint holds; ``epoch`` is the last completed epoch, ``partial_epoch`` the position of a
    run stopped within the next one."""
    return dict(
        config=model_config.to_dict(), model=model.state_dict(), criterion=criterion.state_dict(),
        class_names=list(data.class_names), epoch=epoch, best_metric=best, optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(), mining_scheduler=mining_scheduler.state_dict(),
        precision=precision.state_dict(), recipe=recipe.to_dict(), data=data.fingerprint,
        partial_epoch=partial_epoch,
    )


def with_class_count(model_config, data):
    """``model_config`` with ``num_classes`` the data's class count when none was given (a new config: a
    validated one is never changed); a given count below it is refused."""
    classes = len(data.class_names)
    if model_config.num_classes is None:
        return dataclasses.replace(model_config, num_classes=classes)
    if model_config.num_classes < classes:  # a class id beyond the outputs fails deep in the loss
        settings.refuse("num_classes", model_config.num_classes,
                        f"at least the {classes} classes of {data.train.source} (or no value: as many)")
    return model_config


def log_epoch(epoch, recipe, record):
    parts = [f"epoch {epoch}/{recipe.epochs}", f"loss {record['train_loss']:.4f}",
             f"silhouette train {record['silhouette_train']:.4f} val {record['silhouette_val']:.4f}",
             f"val top1 {record['val_top1']:.3f} top5 {record['val_top5']:.3f} mAP {record['val_mAP']:.3f}"]
    if "valid_triplets" in record:
        parts.append(f"triplets {record['used_triplets']}/{record['valid_triplets']} ({record['pct_used']:.1f}%)")
    parts += [f"lr {record['lr']:.2e}", f"{record['seconds']:.1f}s"]
    log.info(" | ".join(parts))


def main(args):
    build_configs(args)  # bad flags are refused before anything starts or is written
    context, device = distributed.init_from_environment(resolve_device(args.device))
    # On a ClearML agent (--execute_remotely) log_config replaces the arguments with the enqueued run's,
    # which are checked in turn.
    tracker = build_tracker(args) if context.is_main else Tracker()
    tracker.log_config(vars(args))
    recipe, model_config = build_configs(args)  # the settings from here on: checked once, never changed
    set_seed(recipe.seed)
    final = Path(recipe.output_dir) / recipe.experiment_name
    run = RunFolder(final, recipe.resume, recipe.overwrite) if context.is_main else None
    try:
        with StopRequest() as stop:
            model = train(recipe, model_config, device, run, tracker, context, stop)
    except BaseException:
        if run is not None:
            run.discard()
        tracker.close(failed=True)
        raise
    finally:
        distributed.close(context)
    tracker.close()
    if stop.requested:  # train() has said what the stop left: a run to resume, or a complete one
        sys.exit(stop.exit_code)
    return model


def log_resume_hint(stop, context):
    """A signal before the last epoch was saved: the run continues with --resume."""
    if stop.requested:
        log.warning("stopped by %s; last.pt holds the run so far. Continue it with:\n    %s",
                    stop.signal_name, distributed.resume_command(context))


def log_late_stop(stop, folder, undrawn):
    """A signal after the last epoch was saved: there is nothing to resume, at most plots to draw."""
    if not undrawn:
        log.warning("%s received after the last epoch: the run is complete, every file written in %s",
                    stop.signal_name, folder)
        return
    log.warning("%s received after the last epoch: the run is complete (checkpoints and metrics.jsonl in %s); "
                "not drawn: %s (the same command with --resume draws them, training nothing again)",
                stop.signal_name, folder, ", ".join(undrawn))


def steps_per_epoch(recipe, clips):
    """Optimizer steps of an epoch of ``clips`` clips without mining (the last partial batch is dropped)."""
    steps = max(1, clips // recipe.batch_size)
    return min(steps, recipe.epoch_iters) if recipe.epoch_iters > 0 else steps


def epoch_loader(recipe, train_set, signers, epoch, mining_scheduler, context=distributed.Context(), skip=0):
    """This epoch's batches (this rank's shard; without the first ``skip`` of them), and the pre-batch
    mining that regroups them once mining has started."""
    mining = None
    batch_size = recipe.batch_size
    if recipe.start_mining_hard is not None and epoch >= recipe.start_mining_hard:
        mining = PreBatchMining(recipe.batch_size, recipe.hard_mining_pre_batch_mining_count, mining_scheduler,
                                recipe.seed)
        batch_size *= recipe.hard_mining_pre_batch_multipler
    if recipe.bucket_by_length:
        order = bucketed_epoch_order(train_set.lengths(epoch), train_set.class_ids, recipe.seed, epoch, batch_size,
                                     recipe.clips_per_class, signers, recipe.clips_per_signer_gloss)
    else:
        order = epoch_order(train_set.class_ids, recipe.seed, epoch, recipe.clips_per_class, signers,
                            recipe.clips_per_signer_gloss)
    order = distributed.shard(order, context, batch_size, recipe.batch_size)
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=batch_size, sampler=order[skip * batch_size:].tolist(), collate_fn=collate,
        num_workers=recipe.num_workers, drop_last=mining is None and len(order) > batch_size,
        worker_init_fn=ignore_interrupts,
    )
    return loader, mining


def reference_subset(recipe, data, class_ids):
    """The training clips embedded each epoch for the train silhouette and as nearest-class references."""
    references = np.arange(len(data))
    if 0 < recipe.eval_max_clips < len(data):
        references = np.sort(np.random.default_rng(recipe.seed).permutation(references)[: recipe.eval_max_clips])
    return ClipDataset(data.subset(references), class_ids[references])


def update_best(value, best, key):
    """``(whether this epoch becomes best.pt, the best value so far)``; while the metric is undefined (NaN),
    best.pt follows the latest epoch."""
    if math.isnan(value):
        log.warning("%s is undefined (e.g. one clip per validation class): best.pt follows the latest epoch", key)
        return True, best
    return value > best, max(value, best)


def save_epoch_checkpoints(folder, recipe, state, epoch, new_best):
    if new_best:
        save_checkpoint(folder / "best.pt", **state)
    if recipe.save_checkpoints_every > 0 and epoch % recipe.save_checkpoints_every == 0:
        save_checkpoint(folder / f"checkpoint_epoch_{epoch}.pt", **state)
    save_checkpoint(folder / "last.pt", **state)


def restore(folder, device, model, criterion, optimizer, scheduler, mining_scheduler, precision, recipe, model_config,
            data, is_main=True):
    """Load last.pt into the training objects, once it is known to be the same run (model, recipe, data);
    returns the next epoch, the best metric so far and, for a run stopped within that epoch, where it
    stopped (an EpochPosition)."""
    state = check_resumable(folder / "last.pt", model_config, recipe,
                            data.fingerprint, len(data.class_names))
    model.load_state_dict(state["model"])
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


def finish(folder, device, tracker, eval_train_set, validation_set, seed, stop):
    """Hand the run's files and the best model's plots to the tracker; returns the names of the plot files
    not drawn because a stop was requested (embedding and t-SNE can take minutes: a user who stops wants
    out, and the run itself is complete)."""
    tracker.log_artifact("metrics", folder / "metrics.jsonl")
    if not (folder / "best.pt").exists():
        return []
    tracker.log_model(folder / "best.pt", "best")
    undrawn = [figure_file(folder, title).name for title in RUN_FIGURES]
    if stop.requested:
        return undrawn
    best_model, _ = load_model(folder / "best.pt", device)
    embedded = {name: (embed(best_model, clips, device), clips.data)
                for name, clips in (("train", eval_train_set), ("validation", validation_set))}
    if stop.requested:
        return undrawn
    for title, figure in run_figures(embedded, folder, seed).items():
        tracker.log_figure(title, figure)
    return []


def describe_best(best):
    """-inf is the start value: no epoch had a defined metric."""
    if best == float("-inf"):
        return "undefined in every epoch (e.g. one clip per validation class; best.pt is the last epoch)"
    return f"{best:.4f}"


def train(recipe, model_config, device, run, tracker, context=distributed.Context(), stop=None):
    """Train; returns the model (unwrapped), as trained when the run ended or stopped. Rank 0 alone has a
    ``run`` folder; the other ranks read the final folder when resuming."""
    folder = run.path if run is not None else Path(recipe.output_dir) / recipe.experiment_name
    data_folder = None
    if recipe.dataset_loader == "clearml":
        from datasets.clearml_loader import download_dataset

        data_folder = download_dataset(recipe.dataset_project, recipe.dataset_name)
    data = build_dataset(recipe, model_config.classification_model, data_folder)
    model_config = with_class_count(model_config, data)
    log.info("training on %d clips, validating on %d clips, %d classes (%s)",
             len(data.train), len(data.validation), len(data.class_names), data.train.source)
    if data.validation.signers is not None and not recipe.validation_set_path:
        log.info("validation signers: %s", ", ".join(np.unique(data.validation.signers)))

    train_set = ClipDataset(data.train, data.class_ids(data.train.labels), build_augmentations(recipe), recipe.seed)
    eval_train_set = reference_subset(recipe, data.train, train_set.class_ids)
    validation_set = ClipDataset(data.validation, data.class_ids(data.validation.labels))

    model = build_model(model_config).to(device)
    trained = distributed.wrap(model, context, device)
    if recipe.compile:
        trained = torch.compile(trained, dynamic=True)  # clip lengths vary from batch to batch
    precision = Precision(device, recipe.amp)
    criterion = build_criterion(recipe, model_config).to(device)
    optimizer = build_optimizer(recipe, trainable_parameters(model, criterion))
    clips = epoch_clip_count(train_set.class_ids, data.train.signers, recipe.clips_per_signer_gloss)
    steps = steps_per_epoch(recipe, clips // context.world_size)
    step_scheduler, plateau = build_schedulers(recipe, optimizer, steps)
    scheduler = step_scheduler or plateau
    mining_scheduler = MiningScheduler(recipe.hard_mining_scheduler_triplets_threshold)
    batch_loss = distributed.global_batch_loss(criterion, context)
    start_epoch, best, position = 1, float("-inf"), None
    if recipe.resume:
        start_epoch, best, position = restore(folder, device, model, criterion, optimizer, scheduler,
                                              mining_scheduler, precision, recipe, model_config, data, context.is_main)
    if context.is_main:
        write_json(folder / "class_names.json", {str(i): name for i, name in enumerate(data.class_names)})
        write_json(folder / "args.json", {**recipe.to_dict(), **model_config.to_dict()})
    best_key = "val_accuracy" if model_config.classification_model else "silhouette_val"
    stop = stop or StopRequest()

    def should_stop():  # every rank stops at the same step, whichever got the signal
        return distributed.any_rank(stop.requested, context, device)

    log.info("%d process(es) x batch %d = effective batch %d; %s", context.world_size, recipe.batch_size,
             context.world_size * recipe.batch_size, precision.name)

    for epoch in range(start_epoch, recipe.epochs + 1):
        started = time.time()
        set_seed(recipe.seed + epoch)
        train_set.set_epoch(epoch)
        position = position or EpochPosition()
        loader, mining = epoch_loader(recipe, train_set, data.train.signers, epoch, mining_scheduler, context,
                                      position.batches)
        timer = SectionTimer(device)
        record = {"epoch": epoch}
        record.update(train_one_epoch(trained, loader, optimizer, batch_loss, device, epoch, recipe.epoch_iters,
                                      mining, timer, progress=not recipe.no_progress and context.is_main,
                                      scheduler=step_scheduler, precision=precision, position=position,
                                      should_stop=should_stop))
        if position.stopped:
            if context.is_main:  # last.pt: the epochs done, and where this one stopped
                save_checkpoint(folder / "last.pt", **training_state(
                    recipe, model_config, model, criterion, optimizer, scheduler, mining_scheduler, epoch - 1, best,
                    data, precision, dict(position.state_dict(), epoch=epoch)))
                run.commit()
            log.info("epoch %d stopped after %d of its steps", epoch, record["steps"])
            log_resume_hint(stop, context)
            return model
        position = None
        record.update(validate(model, eval_train_set, validation_set, device, model_config.classification_model,
                               context))
        if mining:
            record["mining_threshold"] = mining_scheduler.threshold
            mining_scheduler.step(record.get("pct_used", 100.0))
        record["lr"] = optimizer.param_groups[0]["lr"]
        if plateau is not None and epoch >= recipe.scheduler_warmup:
            plateau.step(record[best_key])
        record["seconds"] = time.time() - started
        record.update({f"seconds_{name}": value for name, value in timer.seconds.items()})
        if context.is_main:
            new_best, best = update_best(record[best_key], best, best_key)
            log_epoch(epoch, recipe, record)
            append_metrics(folder / "metrics.jsonl", record)
            tracker.log_metrics(epoch, record)
            state = training_state(recipe, model_config, model, criterion, optimizer, scheduler, mining_scheduler,
                                   epoch, best, data, precision)
            save_epoch_checkpoints(folder, recipe, state, epoch, new_best)
            folder = run.commit()  # the first saved epoch replaces an old run (--overwrite), wholly
        if should_stop() and epoch < recipe.epochs:  # after the last epoch, the run is complete
            log_resume_hint(stop, context)
            return model
    log.info("best %s %s; checkpoints in %s", best_key, describe_best(best), folder)
    if context.is_main:
        undrawn = finish(folder, device, tracker, eval_train_set, validation_set, recipe.seed, stop)
        if stop.requested:
            log_late_stop(stop, folder, undrawn)
    return model


if __name__ == "__main__":
    run_command(main, get_args_parser())
