"""A model's embedding of every clip of a dataset."""
import numpy as np
import torch
from tqdm import tqdm

from datasets.clip_dataset import ClipDataset, collate, length_buckets
from utils import layout


@torch.no_grad()
def embed(model, dataset, device, batch_size=256, progress=False):
    """Model outputs for every item of ``dataset``, batched by similar length; ``[items, dim]`` numpy."""
    model.eval()
    lengths = [len(dataset[i][0]) for i in range(len(dataset))]
    outputs = None
    for indices in tqdm(length_buckets(lengths, batch_size), desc="embedding", unit="batch", disable=not progress,
                        leave=False):
        keypoints, padding_mask, _ = collate([dataset[i] for i in indices])
        result = model(keypoints.to(device), padding_mask.to(device)).float().cpu().numpy()
        if outputs is None:
            outputs = np.empty((len(dataset), result.shape[1]), dtype=np.float32)
        outputs[indices] = result
    return outputs


def hands_detected(data):
    """``[clips]`` bool: whether any hand point was detected in any frame of each clip of ``data``.

    A clip without hands carries no sign: its embedding would say only where the body stood."""
    hands = np.concatenate([data.keypoints[:, layout.LEFT_HAND], data.keypoints[:, layout.RIGHT_HAND]], axis=1)
    frames_seen = np.concatenate([[0], np.cumsum(~np.isnan(hands).all(axis=(1, 2)))])
    return frames_seen[data.offsets[1:]] > frames_seen[data.offsets[:-1]]


def embed_signs(model, data, device, batch_size=256, progress=False):
    """``[clips, dim]`` embeddings of every clip of a SignData (normalized as in training, not augmented)."""
    return embed(model, ClipDataset(data, np.zeros(len(data), dtype=np.int64)), device, batch_size, progress)
