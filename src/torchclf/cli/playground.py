"""``torchclf playground``: serve the browser app on this machine."""

from __future__ import annotations

import argparse
from typing import IO

from torchclf.cli.flags import add_setting
from torchclf.config.schema import ServeConfig


def add_parser(sub) -> None:
    p = sub.add_parser("playground", help="the browser playground on 127.0.0.1")
    add_setting(p, ServeConfig, "host", applied=True)
    add_setting(p, ServeConfig, "port", applied=True)
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer to requests for this host name, e.g. when served "
                        "behind a proxy or on a network (repeatable); other names are "
                        "refused, which stops DNS rebinding")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import socket
    import webbrowser

    from torchclf.errors import UserError
    from torchclf.web.guard import allowed_hosts

    # every refusal comes before the heavy imports (torch, uvicorn): mistakes answer at once
    serve = ServeConfig(host=args.host, port=args.port)
    hosts = allowed_hosts([serve.host, *args.allow_host])
    ipv6 = ":" in serve.host
    sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((serve.host, serve.port))
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {serve.host} port {serve.port} ({e.strerror}): "
                        "choose another --port or --host") from None
    import torch
    import uvicorn

    from torchclf.web.server import create_app
    # the playground's tensors are small (at most 5000 points, 64 neurons a layer): a
    # second intra-op thread cannot speed them up, and on a busy machine (the browser
    # shares the cores) waiting for it made one mini-batch loss 8 ms instead of 0.01 ms
    torch.set_num_threads(1)
    port = sock.getsockname()[1]
    url = f"http://{f'[{serve.host}]' if ipv6 else serve.host}:{port}/"
    print(f"torchclf playground at {url} (Ctrl+C to stop)", file=out, flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    from torchclf.web.limits import LIMITS
    # a stream's messages from the page are a few bytes: the JSON bodies' limit holds
    config = uvicorn.Config(create_app(hosts), log_level="warning",
                            ws_max_size=LIMITS.max_json_bytes)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
