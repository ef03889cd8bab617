"""Run by tests/test_scale_runs.py under torchrun: train.py's main on this rank, recording the clips each
epoch's loader gives this rank and, at the end, this rank's weights (rank<R>.pt in the folder of argv[1])."""
import json
import logging
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import train  # noqa: E402


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    seen = []
    epoch_loader = train.epoch_loader

    def recording_loader(*args, **kwargs):
        loader, mining = epoch_loader(*args, **kwargs)
        seen.append([int(i) for i in loader.sampler])
        return loader, mining

    train.epoch_loader = recording_loader
    model = train.main(train.get_args_parser().parse_args(argv))
    rank = os.environ["RANK"]
    torch.save(model.state_dict(), out / f"rank{rank}.pt")
    (out / f"rank{rank}_clips.json").write_text(json.dumps(seen))


if __name__ == "__main__":
    main()
