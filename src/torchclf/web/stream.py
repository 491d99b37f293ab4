"""Play as a stream: one WebSocket per tab, frames pushed as fast as the page draws them.

The page opens ``/api/session/{id}/stream`` and sends small JSON messages:
``{"play": true}`` / ``{"play": false}`` start and stop training, ``{"ack": 1}`` says a
frame was drawn. While playing, the server trains ``EPOCHS_PER_FRAME`` epochs (fewer
if they would take longer than ``FRAME_SECONDS``; at least one) on a training
thread (web/trainer.py: never on the event loop nor the request pool; the session's lock keeps other requests out), builds
the frame, and sends it as one binary message (web/frames.py). At most
``IN_FLIGHT`` frames are unacknowledged: a slow page gets fewer frames, never a queue of
stale ones. A tab that closes (or goes away) ends the loop: nothing trains for it.

One stream per session, and sessions are bounded (web/limits.py), so streams are too.
The handshake is checked by web/guard.py like any change (Host and Origin).

How a stream ends: a message that is not a small JSON object (binary, not JSON, nested
deeper than ``MAX_DEPTH``, over 64 KB) closes it with 1003 and the reason; a problem the
step request would answer with a 400 (training diverged, an expired session) is sent as
a text message ``{"error": "..."}``, which the page shows, and the stream closes with
``ERROR_CLOSE`` and the same line as its reason.
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from torchclf.errors import UserError
from torchclf.web import frames
from torchclf.web.limits import LIMITS
from torchclf.web.trainer import TRAINER

FRAME_SECONDS = 0.012  # training time between two frames; building a frame costs about as much
IN_FLIGHT = 2         # frames sent and not yet drawn
# at most this many epochs per frame, so training stays watchable where epochs are cheap
# (the default set-up: 20 x 30 frames/s reaches 95% on moons, epoch ~640, in about 1 s)
EPOCHS_PER_FRAME = 20
MAX_DEPTH = 4         # the page's messages are flat objects: {"play": true}, {"ack": 1}
ERROR_CLOSE = 4400    # an application close code: what the step request says with a 400


class BadMessage(ValueError):
    """A stream message that is not what the page sends (closes with 1003)."""


def parse(message: dict) -> dict:
    """A received ASGI message as the page's small JSON object, or BadMessage."""
    text = message.get("text")
    if text is None:
        raise BadMessage("the stream takes JSON text messages, not binary ones")
    if len(text) > LIMITS.max_json_bytes:
        raise BadMessage(f"a stream message is at most {LIMITS.max_json_bytes:,} bytes")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadMessage("a stream message is a small JSON object; this is not JSON") from None
    if not isinstance(value, dict):
        raise BadMessage("a stream message is a small JSON object such as {\"play\": true}")
    if _depth(value) > MAX_DEPTH:
        raise BadMessage(f"a stream message nests at most {MAX_DEPTH} levels deep")
    if "play" in value and not isinstance(value["play"], bool):
        raise BadMessage("play must be true or false")
    return value


def _depth(value) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:  # deeper is refused anyway: stop looking
                todo += [(v, level + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item)]
    return deepest


async def _end(ws: WebSocket, message: str) -> None:
    """Tell the page why the stream stops (it shows the line), then close with it."""
    await ws.send_text(json.dumps({"error": message}))
    # a close reason is at most 123 bytes of UTF-8
    await ws.close(code=ERROR_CLOSE, reason=message.encode()[:123].decode("utf-8", "ignore"))


def add_stream(app: FastAPI, sessions: dict, touch) -> None:
    """The stream route on ``app``; ``touch(sid)`` marks a session as in use."""
    streams: set[str] = set()
    app.state.streams = streams

    @app.websocket("/api/session/{sid}/stream")
    async def stream(ws: WebSocket, sid: str):
        if sid not in sessions:
            return await ws.close(code=1008, reason="this session has expired: press Reset")
        if sid in streams:
            return await ws.close(code=1008, reason="this session already streams to a tab")
        await ws.accept()
        streams.add(sid)
        try:
            await _serve(ws, sid, sessions, touch)
        except WebSocketDisconnect:
            pass
        finally:
            streams.discard(sid)


async def _serve(ws: WebSocket, sid: str, sessions: dict, touch) -> None:
    state = {"playing": False, "credits": IN_FLIGHT}
    wake = asyncio.Event()

    async def read() -> None:
        while True:
            received = await ws.receive()
            if received["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(received.get("code", 1000))
            message = parse(received)
            if "play" in message:
                state["playing"] = bool(message["play"])
                state["credits"] = IN_FLIGHT if state["playing"] else state["credits"]
            if message.get("ack"):
                state["credits"] = min(IN_FLIGHT, state["credits"] + 1)
            wake.set()

    reader = asyncio.create_task(read())
    sent = (None, 0)  # the session the client has rows of, and how many
    pace = Pace()
    try:
        while not reader.done():
            if not (state["playing"] and state["credits"] > 0):
                wake.clear()
                waiter = asyncio.create_task(wake.wait())
                await asyncio.wait([reader, waiter], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                continue
            session = sessions.get(sid)
            if session is None:
                return await _end(ws, "this session has expired: press Reset to start again")
            touch(sid)
            start = sent[1] if sent[0] is session else 0
            try:
                data, rows, done = await TRAINER.run(sid, _tick, session, start, pace)
            except UserError as e:  # training diverged: as the step request says it
                return await _end(ws, str(e))
            sent = (session, rows)
            state["credits"] -= 1
            await ws.send_bytes(data)
            if done:
                state["playing"] = False
    finally:
        reader.cancel()
    if reader.done() and not reader.cancelled() and isinstance(reader.exception(), BadMessage):
        await ws.close(code=1003, reason=str(reader.exception()))


class Pace:
    """How many epochs fit in ``FRAME_SECONDS``, from the last frame's timing: one
    engine call per frame (one kernel call), sized before it starts. The first frame
    trains one epoch, which times it."""

    def __init__(self) -> None:
        self.per_epoch = FRAME_SECONDS

    def epochs(self) -> int:
        fit = int(FRAME_SECONDS / self.per_epoch)
        return max(1, min(EPOCHS_PER_FRAME, LIMITS.max_step, fit))

    def took(self, trained: int, seconds: float) -> None:
        """``trained`` epochs took ``seconds`` (none: at the cap; nothing learnt)."""
        if trained:
            self.per_epoch = max(seconds / trained, 1e-7)


def _tick(session, history_start: int, pace: Pace) -> tuple[bytes, int, bool]:
    """Train one frame's worth (on this worker thread) and encode the frame."""
    with session.lock:
        epoch, started = session.epoch, time.perf_counter()
        session.step(pace.epochs())
        pace.took(session.epoch - epoch, time.perf_counter() - started)
        frame = session.frame(with_points=False)
        done = session.epoch >= session.settings.epochs
    return frames.encode(frame, history_start), len(frame["history"]["epoch"]), done
