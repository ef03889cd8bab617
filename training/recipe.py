"""Every training setting that is not the model's (:class:`models.ModelConfig`): run, data, loss, optimization
and augmentation. ``train.py`` makes each field a flag of that name; checkpoints store it (``recipe``).

The defaults are this project's recommended recipe; ``recipes/published.txt`` pins the published one.
"""
from dataclasses import dataclass, fields

from models import ModelConfig
from utils import settings
from utils.cli import fold_spec, none_or_str, optional_int
from utils.settings import (FINITE, NAME, NON_NEGATIVE, POSITIVE, PROBABILITY, CountOrFraction, Range, at_least,
                            Settings, common, setting)

RUN, DATA, LOSS, OPTIMIZATION, AUGMENTATION = "run", "data", "loss and mining", "optimization", "augmentation"
# Far beyond any rate that trains (those diverge, and train.py says so), yet small enough that the optimizer's
# float32 step sizes (Adam: the rate over 1 - beta1 and more) do not overflow, which fails in a traceback.
LARGEST_LR = 1e6
# Several processes: torchrun --nproc_per_node=N train.py ...; each rank trains --batch_size clips per step,
# so the effective batch is batch_size x N (README, Scaling out).
SCALE = "scale"
GROUPS = (RUN, DATA, "model", LOSS, OPTIMIZATION, AUGMENTATION, SCALE)
NEVER = -1


def _run(default, help, check=None, **flag):
    return setting(default, help, check, RUN, **flag)


def _data(default, help, check=None, **flag):
    return setting(default, help, check, DATA, **flag)


def _loss(default, help, check=None, **flag):
    return setting(default, help, check, LOSS, **flag)


def _optim(default, help, check=None, **flag):
    return setting(default, help, check, OPTIMIZATION, **flag)


def _augment(default, help, check=PROBABILITY, **flag):
    return setting(default, help, check, AUGMENTATION, **flag)


def _scale(default, help, check=None, **flag):
    return setting(default, help, check, SCALE, **flag)


@dataclass(frozen=True)
class RecipeConfig(Settings):
    """Every non-model training setting, its default, meaning and accepted values (validated when made)."""

    WHAT = "recipe"
    ADDED_LATER = {"split_seed": None, "extra_training_path": "", "clips_per_signer_gloss": 0}
    REMOVED = {"temporal_crop_prob": 0.0, "proxy_subcenters": 1, "ema_decay": 0.0}

    experiment_name: str = _run("spoter_embeddings", "name of the run and its output folder", NAME,
                                free_on_resume=True)
    seed: int = common("seed", RUN)
    epochs: int = _run(10, "number of epochs", at_least(1), free_on_resume=True)
    epoch_iters: int = _run(NEVER, "cap on optimizer steps per epoch; -1: whole data", at_least(1, also=(NEVER,)))
    save_checkpoints_every: int = _run(NEVER, "also keep checkpoint_epoch_<N>.pt every N epochs; -1: never",
                                       at_least(1, also=(NEVER,)), free_on_resume=True)
    tracker: str = _run("none", "experiment tracker", choices=["none", "clearml"], free_on_resume=True)
    execute_remotely: str = _run("", "with --tracker clearml: enqueue the run on this ClearML agent queue and stop "
                                     "here", metavar="QUEUE", free_on_resume=True)
    output_dir: str = _run("out-checkpoints", "runs are written to <output_dir>/<experiment_name>",
                           free_on_resume=True)
    resume: bool = _run(False, "continue the run in the experiment folder from its last.pt, exactly where it "
                               "stopped (model, data and recipe must match)", free_on_resume=True)
    overwrite: bool = _run(False, "replace an existing experiment folder (wholly, once the new run has started)",
                           free_on_resume=True)
    device: str = common("device", RUN, free_on_resume=True)
    num_workers: int = _run(0, "data loading worker processes (results do not depend on it)", at_least(0),
                            free_on_resume=True)
    eval_max_clips: int = _run(0, "training clips embedded each epoch as nearest-class references and for the "
                                  "train silhouette; 0: all, so validation scores exactly as evaluate.py does",
                               at_least(0))
    no_progress: bool = common("no_progress", RUN, free_on_resume=True)

    dataset_name: str = _data("", "folder under $BASE_DATA_FOLDER holding the data files", free_on_resume=True)
    dataset_project: str = _data("Sign Language Recognition", "ClearML dataset project", free_on_resume=True)
    dataset_loader: str = _data("local", "where data comes from", choices=["local", "clearml"], free_on_resume=True)
    training_set_path: str = _data("", "SPOTER CSV (.csv, .csv.gz), MediaPipe .npz, .pose or a folder per class; "
                                       "several comma-separated files train as one set (same gloss, same class; "
                                       "signers kept apart per file); empty: the bundled data/asl_mit set",
                                   free_on_resume=True)
    extra_training_path: str = _data("", "comma-separated files whose clips are added to the training clips after "
                                         "the validation split, so their signers are never held out (more people "
                                         "behind the same folds)", free_on_resume=True)
    validation_set_path: str = _data("", "validation file; empty: split the training data (by signer when known)",
                                     free_on_resume=True)
    validation_signers: float = _data(0.2, "signers held out when splitting: a count (>= 1) or a fraction (< 1)",
                                      CountOrFraction())
    validation_fold: tuple | None = _data(None, "hold out fold K of N seeded signer folds instead of "
                                                "--validation_signers (leave-signers-out cross-validation; see "
                                                "cross_validate.py)", type=fold_spec, metavar="K/N")
    split_seed: int | None = _data(None, "seed of the validation split alone (the signers or clips held out, the "
                                         "folds of --validation_fold); None: --seed. Another --seed with the same "
                                         "split measures what the seed moves", at_least(0, also=(None,)),
                                   type=optional_int)
    validation_fraction: float = _data(0.2, "share of each class held out when signers are unknown",
                                       Range(0, 1, low_open=True, high_open=True))
    exclude_labels: list = common("exclude_labels", DATA)
    bsl_letters: list = common("bsl_letters", DATA)
    min_clips_per_class: int = _data(0, "drop training classes with fewer clips (2 makes every class usable for "
                                        "triplets)", at_least(0))
    clips_per_signer_gloss: int = _data(0, "each epoch draws at most this many clips of every (signer, gloss) "
                                           "pair, anew every epoch, so that a signer who recorded a sign 300 times "
                                           "weighs as much as one who recorded it 20 times; 0: every clip",
                                        at_least(0))
    clips_per_class: int = _data(4, "batches hold runs of this many clips per class, spread over signers (P "
                                    "classes x K clips); 0: plain shuffle (published)", at_least(0))
    cache_dir: str = common("cache_dir", DATA, free_on_resume=True)

    loss: str = _loss("supcon+proxy", "triplet: the published triplet loss (see --hard_triplet_mining); supcon: "
                                "supervised contrastive over every pair of the batch; proxy: normalized softmax "
                                "over one learned proxy per class with a cosine margin; supcon+proxy: their sum",
                      choices=["triplet", "supcon", "proxy", "supcon+proxy"])
    temperature: float = _loss(0.1, "supcon: softmax temperature", POSITIVE)
    proxy_temperature: float = _loss(0.05, "proxy: softmax temperature", POSITIVE)
    proxy_margin: float = _loss(0.1, "proxy: cosine margin of the true class", Range(0, 1))
    hard_triplet_mining: str | None = _loss("in_batch", "None: one sampled triplet per anchor; in_batch: every "
                                                        "valid triplet of the batch",
                                            type=none_or_str, choices=[None, "in_batch"])
    triplet_loss_margin: float = _loss(1.0, "triplet loss margin", NON_NEGATIVE)
    filter_easy_triplets: bool = _loss(True, "average the in-batch loss over margin-violating triplets only")
    start_mining_hard: int | None = _loss(None, "epoch from which pre-batch hard mining is used; None: never",
                                          at_least(1, also=(None,)), type=optional_int)
    # Stored under the published spelling, which stays a flag; the correct spelling is the documented one.
    hard_mining_pre_batch_multipler: int = _loss(16, "a pre-batch holds batch_size times this many clips",
                                                 at_least(1), aliases=("hard_mining_pre_batch_multiplier",),
                                                 metavar="N")
    hard_mining_pre_batch_mining_count: int = _loss(5, "passes over the batches mined from each pre-batch",
                                                    at_least(1))
    hard_mining_scheduler_triplets_threshold: float = _loss(
        0.0, "lower the mining threshold when an epoch's used triplets (percent) fall below this", Range(0, 100))

    batch_size: int = _optim(128, "clips per optimizer step (embeddings: room for a positive pair and a negative)",
                             at_least(1))
    optimizer: str = _optim("ADAMW", "optimizer", choices=["SGD", "ADAM", "ADAMW"])
    lr: float = _optim(0.001, "(peak) learning rate", Range(0, LARGEST_LR, low_open=True))
    weight_decay: float = _optim(0.05, "ADAMW: decoupled weight decay", NON_NEGATIVE)
    lr_schedule: str = _optim("cosine", "plateau: cut the LR when the validation metric stalls (published, see "
                                        "--scheduler_*); cosine: linear warm-up, then cosine decay to 0 over the "
                                        "run, per step", choices=["plateau", "cosine"])
    warmup_fraction: float = _optim(0.1, "cosine: share of the steps spent warming up", Range(0, 1, high_open=True))
    scheduler_factor: float = _optim(0.2, "ReduceLROnPlateau factor", Range(0, 1, low_open=True, high_open=True))
    scheduler_patience: int = _optim(10, "ReduceLROnPlateau patience (epochs)", at_least(0))
    scheduler_warmup: int = _optim(400, "epochs before the LR scheduler acts", at_least(0))

    augmentations_prob: float = _augment(0.75, "probability of one geometric augmentation (and noise) per clip")
    mirror_prob: float = _augment(0.0, "probability of a left/right mirror (hands swapped) per clip; "
                                       "--canonical_handedness undoes it, so it only matters without that")
    hand_warp_prob: float = _augment(0.5, "probability of turning and stretching each hand about its wrist, hands "
                                          "independently")
    hand_drop_prob: float = _augment(0.5, "probability of losing one hand over a run of up to half the frames")
    time_stretch_prob: float = _augment(0.5, "probability of resampling a clip to 2/3-1.5x its length, so length "
                                             "says nothing of the gloss")
    gaussian_mean: float = _augment(0.0, "mean of the coordinate noise", FINITE)
    gaussian_std: float = _augment(0.001, "spread of the coordinate noise", NON_NEGATIVE)

    amp: bool = _scale(False, "mixed precision: bfloat16 autocast (float16 with loss scaling on GPUs without "
                              "bfloat16; bfloat16 on CPUs, faster only on those with bfloat16 units)",
                       free_on_resume=True)
    compile: bool = _scale(False, "train through torch.compile (first steps compile)", free_on_resume=True)
    bucket_by_length: bool = _scale(False, "training batches of clips of similar length (shuffled buckets; keeps "
                                           "--clips_per_class runs), so short clips stop paying for the longest "
                                           "of a batch")

    def __post_init__(self):
        object.__setattr__(self, "exclude_labels", list(self.exclude_labels))
        object.__setattr__(self, "bsl_letters", list(self.bsl_letters))
        if self.validation_fold is not None:
            object.__setattr__(self, "validation_fold", tuple(self.validation_fold))
        settings.validate(self)
        if self.resume and self.overwrite:
            settings.refuse("overwrite", True, "not together with --resume (continue a run, or replace it)")

    def must_match_on_resume(self):
        """The settings a resumed run must share with the run it continues."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata["free_on_resume"]}


def check_batch(recipe, model):
    """A batch must be able to hold what an embedding loss needs: an anchor, a clip of its class and one of
    another class."""
    if not model.classification_model and recipe.batch_size < 3:
        settings.refuse("batch_size", recipe.batch_size, "at least 3 for an embedding loss (an anchor, a clip of "
                        "its class and one of another); only --classification_model trains on smaller batches")


def build_configs(args):
    """The validated recipe and model config of parsed train.py arguments; refuses bad values by flag."""
    recipe, model = RecipeConfig.from_args(args), ModelConfig.from_args(args)
    check_batch(recipe, model)
    return recipe, model

