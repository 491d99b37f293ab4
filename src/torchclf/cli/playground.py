"""``torchclf playground``: serve the browser app on this machine."""

from __future__ import annotations

import argparse
from typing import IO


def add_parser(sub) -> None:
    p = sub.add_parser("playground", help="the browser playground on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: local only)")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import socket
    import webbrowser

    import uvicorn

    from torchclf.web.server import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        from torchclf.errors import UserError
        raise UserError(f"cannot listen on {args.host}:{args.port} ({e.strerror}): "
                        "choose another --port") from None
    port = sock.getsockname()[1]
    url = f"http://{args.host}:{port}/"
    print(f"torchclf playground at {url} (Ctrl+C to stop)", file=out, flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    config = uvicorn.Config(create_app(), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
