"""Does a second tab stay responsive while many tabs Play big networks?

Starts ``torchclf playground`` on 127.0.0.1 (a free port; loopback only), measures
``GET /api/options`` with nothing running, then opens N sessions of a large network,
Plays each over its WebSocket (acknowledging every frame, as the page does), and
measures ``/api/options`` (and the page) again while they stream, and the time to
create one more session. It prints the latencies and the loaded/idle ratio. Bounded: at most 60
sessions (the server allows 64) and 60 seconds of load; nothing leaves this machine.

    python benchmarks/playground_load.py                  # 20 sessions, 10 s
    python benchmarks/playground_load.py --sessions 45 --seconds 15

On 2 shared cores, 45 sessions, 10 s (two runs each): while training shared the request
pool, /api/options took a median 3.5-3.8 s under load (177-232x idle), the page up to
13 s, a new session 5.1-5.4 s; with training on its own threads (web/trainer.py),
0.09-0.15 s (6-10x idle: the two training threads still take the CPU), the page up to
0.3 s, a new session 0.12-0.37 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time

import httpx
import websockets

HEAVY = {"dataset": "moons", "points": 2000, "hidden": [64] * 6, "epochs": 100000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "torchclf", "playground", "--port",
                             str(port), "--no-browser"], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "torchclf playground at ...": bound, soon listening
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/options", timeout=5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the playground did not start within 30 s")


async def latencies(c: httpx.AsyncClient, n: int, pause: float = 0.2,
                    path: str = "/api/options") -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        (await c.get(path)).raise_for_status()
        out.append(time.perf_counter() - started)
        await asyncio.sleep(pause)
    return out


async def play(port: int, sid: str, stop: asyncio.Event, counts: list[int]) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/api/session/{sid}/stream",
                                  max_size=2**24) as ws:
        await ws.send(json.dumps({"play": True}))
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 1.0)
            except asyncio.TimeoutError:
                continue
            if isinstance(message, str):  # the stream ended with an error line
                print("stream ended:", message)
                return
            counts.append(1)
            await ws.send(json.dumps({"ack": 1}))


async def measure(port: int, sessions: int, seconds: float, samples: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
        idle = await latencies(c, samples)
        page_idle = await latencies(c, 3, path="/")
        ids = []
        for _ in range(sessions):
            r = await c.post("/api/session", json={"settings": HEAVY})
            r.raise_for_status()
            ids.append(r.json()["id"])
        stop, counts = asyncio.Event(), []
        players = [asyncio.create_task(play(port, sid, stop, counts)) for sid in ids]
        await asyncio.sleep(min(2.0, seconds / 4))  # every stream under way
        started = time.monotonic()
        loaded = await latencies(c, samples, pause=max(0.0, seconds / samples - 0.05))
        page_loaded = await latencies(c, 3, path="/")
        t0 = time.perf_counter()
        (await c.post("/api/session", json={"settings": {}})).raise_for_status()
        new_session = time.perf_counter() - t0
        elapsed = time.monotonic() - started
        stop.set()
        await asyncio.gather(*players, return_exceptions=True)
    med_idle, med_loaded = statistics.median(idle), statistics.median(loaded)
    print(f"{sessions} sessions streaming {HEAVY['hidden']} on {HEAVY['points']} points")
    print(f"/api/options idle:   median {med_idle * 1000:8.1f} ms  max {max(idle) * 1000:8.1f} ms")
    print(f"/api/options loaded: median {med_loaded * 1000:8.1f} ms  max {max(loaded) * 1000:8.1f} ms")
    print(f"ratio loaded/idle (median): {med_loaded / med_idle:.1f}x")
    print(f"the page (GET /): idle {max(page_idle) * 1000:.1f} ms, "
          f"loaded {max(page_loaded) * 1000:.1f} ms (slowest of 3)")
    print(f"a new session under load: {new_session * 1000:.0f} ms")
    print(f"frames streamed: {len(counts)} in {elapsed:.1f} s "
          f"({len(counts) / max(elapsed, 1e-9) / sessions:.1f} per session per second)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    sessions = max(1, min(60, args.sessions))
    seconds = max(1.0, min(60.0, args.seconds))
    port = free_port()
    server = start_server(port)
    try:
        asyncio.run(measure(port, sessions, seconds, max(3, min(100, args.samples))))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
