"""Datasets: every source read into :class:`~datasets.sign_data.SignData` (a clip is a float array
``[frames, 54, 2]`` in the layout of :mod:`utils.layout`), then filtered, split and served to torch.

=======================  ==========================================================================
``formats/``             one module per file format (SPOTER CSV, MediaPipe .npz, .pose, MP_Data, landmark
                         files, folders of clips)
``reading.py``           the reader registry by file type, behind the content-keyed ``cache.py``
``paths.py``             path resolution (``$BASE_DATA_FOLDER/<dataset_name>``), the default training set
``filters.py``           selection by label, language, signers per gloss
``labels.py``            class names, class ids, and class keys (gloss, or language and gloss)
``splits.py``            seeded signer-disjoint / stratified splits, signer folds, k-shot draws
``training_data.py``     train.py's training and validation sets
``normalization.py``,    normalization, and the torch dataset and padded batches
``clip_dataset.py``
=======================  ==========================================================================

The names below are the package's public entry points, importable from ``datasets`` directly.
"""
from datasets.filters import filter_signs
from datasets.labels import class_keys, class_names, label_ids
from datasets.paths import DEFAULT_TRAINING_SET, resolve_path
from datasets.reading import data_files, read_sign_files, read_signs
from datasets.training_data import TrainingData, build_dataset

__all__ = ["DEFAULT_TRAINING_SET", "TrainingData", "build_dataset", "class_keys", "class_names", "data_files",
           "filter_signs", "label_ids", "read_sign_files", "read_signs", "resolve_path"]
