"""Serve the sign search and practice page on this machine (127.0.0.1 only).

    cd web && npm ci && cd ..          # once: onnxruntime-web and MediaPipe Holistic, served locally
    python serve.py                    # the bundled pretrained model (int8) and index
    python serve.py --model model.onnx --index index.npz [--port 8000]
    # then open http://127.0.0.1:8000/ in a browser (camera access works on 127.0.0.1 without https)

The model is an export of export.py (its sidecar model.json beside it); the index an .npz of
search.py index made with the same checkpoint (refused otherwise). Ctrl-C stops the server.
"""
import argparse
import logging
from pathlib import Path

from utils.cli import Parser, run_command
from utils.errors import DataError
from web.server import HOST, make_server

log = logging.getLogger("serve")
PRETRAINED = Path(__file__).resolve().parent / "pretrained"
LAST_PORT = 65535


def get_args_parser():
    parser = Parser(prog="serve.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(PRETRAINED / "model.int8.onnx"),
                        help="exported model (.onnx of export.py, sidecar .json beside it); default: the bundled "
                             "pretrained model")
    parser.add_argument("--index", default=str(PRETRAINED / "index.npz"),
                        help="index of the same model (.npz of search.py index); default: the bundled index")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default %(default)s; 0: any free)")
    return parser


def check_args(args):
    if not 0 <= args.port <= LAST_PORT:
        raise DataError(f"--port {args.port}: expected a port number from 0 to {LAST_PORT} (0: any free port)")


def serve(args):
    check_args(args)
    server = make_server(args.model, args.index, args.port)
    log.info("serving on http://%s:%d/ (Ctrl-C to stop)", HOST, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # the way to stop a server: not an interrupted command
        log.info("stopped")
    finally:
        server.server_close()


def main(argv=None):
    return run_command(serve, get_args_parser(), argv)


if __name__ == "__main__":
    main()
