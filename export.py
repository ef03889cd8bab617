"""Export a checkpoint to ONNX: raw keypoints and a padding mask in, embeddings out, normalization inside.

    python export.py --checkpoint out-checkpoints/spoter_embeddings/best.pt --output model.onnx [--int8]
    python export.py --checkpoint best.pt --output model.onnx --int8 --evaluate ../shared/data/signs/ksl.npz data/asl_mit/asl_mit.csv.gz

Writes ``model.onnx`` and its sidecar ``model.json`` (keypoint names and order, the MediaPipe Holistic
mapping, vector length, the checkpoint's sha256, the glosses, input and output names); with ``--int8``
also ``model.int8.onnx`` and ``model.int8.json``, dynamically quantized. Existing files are kept unless
``--force``. ``--evaluate FILE ...`` prints the nearest-class top-1 of PyTorch, onnxruntime fp32 (and int8)
on evaluate.py's default split of each FILE.
"""
import argparse
import logging
from pathlib import Path

from datasets import filter_signs, read_signs
from deploy.onnx_export import (INPUT_NAMES, OPSET, OUTPUT_NAME, check_outputs, export, load_embedding_model,
                                quantize_int8, sidecar_path)
from utils.cli import Parser, run_command, setup_logging
from utils.settings import add_common


def get_args_parser():
    """Flags are spelled with underscores, as in every command; --exclude-labels still works
    (:class:`utils.cli.Parser`)."""
    parser = Parser(prog="export.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="checkpoint of an embedding model (best.pt of train.py)")
    parser.add_argument("--output", default="",
                        help="ONNX file to write (default: the checkpoint's name with .onnx); sidecar: same name, .json")
    parser.add_argument("--int8", action="store_true", help="also write a dynamically quantized NAME.int8.onnx")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    checking = parser.add_argument_group("checking the export")
    checking.add_argument("--evaluate", nargs="+", default=[], metavar="FILE",
                          help="print top-1 of PyTorch and onnxruntime on evaluate.py's default split of each FILE")
    add_common(checking, "exclude_labels")
    return parser


def mebibytes(path):
    return Path(path).stat().st_size / 2 ** 20


def read_evaluation_data(args):
    """``{file: its clips}`` of --evaluate, read and split now: a file that cannot be scored is refused before the
    export's work, not after."""
    from deploy.onnx_runtime import default_split

    evaluation_data = {file: filter_signs(read_signs(file), exclude_labels=args.exclude_labels)
                       for file in args.evaluate}
    for data in evaluation_data.values():
        default_split(data)
    return evaluation_data


def evaluate_exports(args, paths, evaluation_data):
    from deploy.onnx_runtime import embed_onnx, embed_torch, open_session, top1_by_method

    model, _ = load_embedding_model(args.checkpoint)
    embedders = {"pytorch": lambda clips: embed_torch(model, clips)}
    for name, path in paths.items():
        embedders[f"onnxruntime {name}"] = lambda clips, session=open_session(path): embed_onnx(session, clips)
    for file, data in evaluation_data.items():
        figures, protocol = top1_by_method(data, embedders)
        print(f"top-1 on {file} ({protocol['split']}: {protocol['query_clips']} queries, "
              f"{protocol['reference_clips']} references, seed {protocol['seed']}):")
        for name, top1 in figures.items():
            change = "" if name == "pytorch" else f"  ({100 * (top1 - figures['pytorch']):+.2f} points)"
            print(f"  {name:<18} {100 * top1:6.2f}%{change}")


def run(args):
    output = Path(args.output) if args.output else Path(args.checkpoint).with_suffix(".onnx")
    check_outputs(args.checkpoint, output, args.force, args.int8)
    evaluation_data = read_evaluation_data(args)
    export(args.checkpoint, output)
    print(f"wrote {output} ({mebibytes(output):.2f} MiB, opset {OPSET}; inputs {', '.join(INPUT_NAMES)}; "
          f"output {OUTPUT_NAME}) and {sidecar_path(output)}")
    paths = {"fp32": output}
    if args.int8:
        paths["int8"] = quantize_int8(output)
        print(f"wrote {paths['int8']} ({mebibytes(paths['int8']):.2f} MiB, dynamic int8) and "
              f"{sidecar_path(paths['int8'])}")
    if args.evaluate:
        evaluate_exports(args, paths, evaluation_data)


def main(argv=None):
    setup_logging(logging.WARNING)  # the exporter's and quantizer's INFO lines are noise to a user
    return run_command(run, get_args_parser(), argv)


if __name__ == "__main__":
    main()
