"""Serve the sign search and practice page on this machine (127.0.0.1 only).

    cd web && npm ci && cd ..          # once: onnxruntime-web and MediaPipe Holistic, served locally
    python serve.py                    # the bundled pretrained model (int8) and index
    python serve.py --model model.onnx --index index.npz [--port 8000]
    # then open http://127.0.0.1:8000/ in a browser (camera access works on 127.0.0.1 without https)

The model is an export of export.py (its sidecar model.json beside it); the index an .npz of
search.py index made with the same checkpoint (refused otherwise).
"""
import argparse
import logging
import sys
from pathlib import Path

from datasets.sign_data import DataError
from web.server import make_server

log = logging.getLogger("serve")
PRETRAINED = Path(__file__).resolve().parent / "pretrained"


def get_args_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(PRETRAINED / "model.int8.onnx"),
                        help="exported model (.onnx of export.py, sidecar .json beside it); default: the bundled "
                             "pretrained model")
    parser.add_argument("--index", default=str(PRETRAINED / "index.npz"),
                        help="index of the same model (.npz of search.py index); default: the bundled index")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default %(default)s; 0: any free)")
    return parser


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = get_args_parser().parse_args(argv)
    try:
        server = make_server(args.model, args.index, args.port)
    except DataError as error:
        log.error("%s", error)
        sys.exit(2)
    except OSError as error:
        log.error("--port %d: cannot listen on 127.0.0.1 (%s)", args.port, error.strerror or error)
        sys.exit(2)
    log.info("serving on http://127.0.0.1:%d/ (Ctrl-C to stop)", server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
