"""HTTP routes of the playground; the page is static, state lives in sessions."""

from __future__ import annotations

import functools
import io
import time
import uuid
import zipfile
from pathlib import Path
from typing import Iterable

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from torchclf.errors import UserError
from torchclf.web import features, replay
from torchclf.web.guard import Guard, allowed_hosts
from torchclf.web.limits import LIMITS
from torchclf.web.request_body import coordinate, csv_text, integer, json_object
from torchclf.web.network_view import weight_value
from torchclf.web.session import Session, Settings
from torchclf.web.sources import from_csv_text, generate, table_refusal
from torchclf.web.stream import add_stream
from torchclf.web.trainer import TRAINER

STATIC = Path(__file__).with_name("static")
THUMBNAIL_POINTS = 120  # per dataset picture on the page


def create_app(hosts: Iterable[str] = ()) -> FastAPI:
    """A new app with its own session table (tests make several).

    It answers to localhost names and to ``hosts`` (the address it is bound to, names
    it is served under); any other Host header is refused (web/guard.py).
    """
    app = FastAPI(title="torchclf playground")
    app.add_middleware(Guard, hosts=allowed_hosts(hosts))
    sessions: dict[str, Session] = {}
    app.state.sessions = sessions

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return JSONResponse({"error": str(exc)}, status_code=getattr(exc, "status", 400))

    def sweep_idle() -> None:
        now = time.monotonic()
        for key in [k for k, s in sessions.items() if now - s.last_seen > LIMITS.idle_seconds]:
            sessions.pop(key, None)

    def get(sid: str) -> Session:
        sweep_idle()
        session = sessions.get(sid)
        if session is None:
            raise UserError("this session has expired: press Reset to start again")
        session.last_seen = time.monotonic()
        return session

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html")

    @app.get("/api/options")
    def options():
        from torchclf.data import synthetic
        from torchclf.model import ACTIVATIONS
        from torchclf.optimizers import OPTIMIZERS
        return {"datasets": list(synthetic.GENERATORS), "tables": tables(),
                "activations": list(ACTIVATIONS),
                "optimizers": list(OPTIMIZERS), "limits": LIMITS.__dict__,
                "defaults": Settings().__dict__, "live_settings": list(Settings.LIVE),
                "controls": data_controls(), "thumbnails": thumbnails(),
                "features": {k: label for k, (label, _) in features.FEATURES.items()}}

    @app.get("/favicon.ico")
    def favicon():
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.post("/api/session")
    async def create(request: Request):
        body = await json_object(request)
        settings = body.get("settings", {})
        if not isinstance(settings, dict):
            raise UserError(f"expected 'settings' to be a JSON object, got {settings!r:.60}")
        settings = Settings.parse(settings)
        # ids are minted here: a tab may reuse its own live session, never name a new one
        sid = body.get("id") if body.get("id") in sessions else uuid.uuid4().hex
        old = sessions.get(sid)
        custom = old.data if old is not None and settings.dataset == "custom" else None
        sweep_idle()
        if sid not in sessions and len(sessions) >= LIMITS.max_sessions:
            raise UserError("the playground is full: close other tabs or try again later")
        session, frame = await run_in_threadpool(_created, settings, custom)  # no training
        sessions[sid] = session
        return {"id": sid, **frame}

    @app.post("/api/session/{sid}/step")
    async def step(sid: str, request: Request):
        body = await json_object(request)
        session = get(sid)
        epochs, points = integer(body, "epochs", 1), bool(body.get("points", False))
        # training runs on the training threads (web/trainer.py), never on the event loop
        # nor the request pool: other tabs answer while this one trains, and the time
        # budget bounds how long it holds a training thread
        return await TRAINER.run(sid, _step, session, epochs, points)

    @app.post("/api/session/{sid}/settings")
    async def retune(sid: str, request: Request):
        """Learning rate, L2 and the epoch cap change while training goes on."""
        body = await json_object(request)
        session = get(sid)
        return await TRAINER.run(sid, _retune, session, body.get("settings"))

    @app.post("/api/session/{sid}/weight")
    async def edit_weight(sid: str, request: Request):
        """One weight of the live model, set from the page's network picture."""
        body = await json_object(request)
        session = get(sid)
        where = integer(body, "layer"), integer(body, "row"), integer(body, "col")
        return await TRAINER.run(sid, _set_weight, session, *where, weight_value(body))

    @app.post("/api/session/{sid}/points")
    async def add_point(sid: str, request: Request):
        body = await json_object(request)
        session = get(sid)
        point = coordinate(body, "x"), coordinate(body, "y"), integer(body, "label")
        return await TRAINER.run(sid, _add_point, session, *point)

    @app.post("/api/session/{sid}/upload")
    async def upload(sid: str, request: Request):
        text = await csv_text(request)
        old = get(sid)  # uploads replace a live session's data; they never create one
        settings = Settings(**{**old.settings.__dict__, "dataset": "custom"})
        session, frame = await run_in_threadpool(_uploaded, settings, text)
        sessions[sid] = session
        return {"id": sid, **frame}

    @app.delete("/api/session/{sid}")
    def close(sid: str):
        sessions.pop(sid, None)
        return {"closed": sid}

    @app.get("/api/session/{sid}/export/config.toml")
    def export_config(sid: str):
        session = get(sid)
        if not session.inputs.identity:
            raise UserError(session.inputs.note())
        return PlainTextResponse(session.config().to_toml(), headers=_attachment("config.toml"))

    @app.get("/api/session/{sid}/export/script.py")
    def export_script(sid: str):
        return PlainTextResponse(script(get(sid)), headers=_attachment("reproduce.py"))

    @app.get("/api/session/{sid}/replay/{index}")
    async def replay_frame(sid: str, index: int):
        """The scrubber: the boundary as it was at kept frame ``index``."""
        return await TRAINER.run(sid, _replayed, get(sid), index)

    @app.get("/api/session/{sid}/export/replay.gif")
    async def export_gif(sid: str, frames: str | None = None):
        n = replay.GIF_FRAMES if frames is None else _whole(frames)
        session = get(sid)
        data = await TRAINER.run(sid, replay.gif, session, n)  # matplotlib: off the loop
        return Response(data, media_type="image/gif", headers=_attachment("playground.gif"))

    @app.get("/api/session/{sid}/export/model.zip")
    def export_model(sid: str):
        import tempfile
        from torchclf.store.modelfiles import save_model
        session = get(sid)
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, session.lock:
            save_model(session.predictor, tmp)
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
                for name in ("model.safetensors", "model.json"):
                    z.write(Path(tmp) / name, name)
                if session.inputs.identity:  # a config cannot describe added features
                    z.writestr("config.toml", session.config().to_toml())
                z.writestr("reproduce.py", script(session))
                if session.own_data:
                    z.writestr("points.csv", session.points_csv())
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers=_attachment("model.zip"))

    def touch(sid: str) -> None:
        if sid in sessions:
            sessions[sid].last_seen = time.monotonic()

    add_stream(app, sessions, touch)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _frame(session: Session) -> dict:
    with session.lock:
        return session.frame()


def _created(settings: Settings, custom) -> tuple[Session, dict]:
    session = Session.create(settings, custom)
    return session, _frame(session)


def _uploaded(settings: Settings, text: str) -> tuple[Session, dict]:
    return _created(settings, from_csv_text(text))


def _replayed(session: Session, index: int) -> dict:
    with session.lock:
        frame = session.replay.frame(index)
        grid, pred = session.boundary(replay.predictor_at(session, frame).proba_of_features)
        return {"index": index, "count": len(session.replay), "epoch": frame.epoch,
                "grid": grid.to_json(), "test_pred": pred.astype(int).tolist()}


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"frames must be a whole number, got {text[:40]!r}") from None


def _add_point(session: Session, x: float, y: float, label: int) -> dict:
    with session.lock:
        session.add_point(x, y, label)
        return session.frame()


def _set_weight(session: Session, layer: int, row: int, col: int, value: float) -> dict:
    with session.lock:
        session.set_weight(layer, row, col, value)
        return session.frame(with_points=False)


@functools.lru_cache(maxsize=1)
def thumbnails() -> dict[str, list]:
    """A small sample of each built-in 2-D dataset as [x, y, label] rows (its default
    settings), for the page's dataset pictures."""
    import numpy as np
    from torchclf.data import synthetic
    out = {}
    for name in synthetic.GENERATORS:
        ds = generate(Settings(dataset=name, points=THUMBNAIL_POINTS))
        out[name] = np.round(np.column_stack([ds.X, ds.y]), 2).tolist()
    return out


def _retune(session: Session, changes) -> dict:
    with session.lock:
        session.retune(session.settings.retuned(changes))
        return session.frame(with_points=False)


def data_controls() -> dict[str, list[str]]:
    """Which of the page's data controls each dataset takes (its generator's parameters)."""
    from torchclf.data import synthetic
    from torchclf.web.session import PAGE_NAMES
    names = ("noise", "n_samples", "n_classes")
    out = {name: [PAGE_NAMES.get(p, p) for p in names if p in synthetic.parameters(name)]
           for name in synthetic.GENERATORS}
    from torchclf.data import bundled
    # an upload or a bundled table brings its own points and classes
    return {**out, **{name: [] for name in bundled.TABLES}, "custom": []}


def tables() -> dict[str, dict]:
    """The bundled tables the dataset menu lists after the generators: their size, and
    why the playground refuses one (``refused``; None when it takes it)."""
    from torchclf.data import bundled
    return {name: {"rows": t.rows, "features": t.features, "classes": t.classes,
                   "description": t.description, "refused": table_refusal(name)}
            for name, t in bundled.TABLES.items()}


def _step(session: Session, epochs: int, points: bool) -> dict:
    with session.lock:
        session.step(epochs, LIMITS.step_seconds)
        return session.frame(with_points=points)


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def script(session: Session) -> str:
    """A short Python script that reproduces the run with torchclf's public API."""
    c = session.config()
    if session.own_data:
        load = ('# the points as they were in the playground (uploaded or clicked)\n'
                f'POINTS = {session.points_csv()!r}\n'
                'with open("points.csv", "w", encoding="utf-8") as f:\n    f.write(POINTS)\n'
                'ds = tc.load_table("points.csv", target="label")\n')
    else:
        params = f", **{dict(c.data.params)!r}" if c.data.params else ""  # a table has none
        load = f"ds = tc.datasets.load({c.data.source!r}{params})\n"
    t = c.train
    edited = (f"# {session.edits} weight(s) were set by hand in the playground; this script "
              "trains\n# from the seed's weights without those edits, so its numbers differ\n"
              if session.edits else "")
    return (
        '"""Reproduces a torchclf playground run: python reproduce.py"""\n'
        "import torchclf as tc\n\n"
        f"{edited}{load}{session.inputs.script()}"
        f"train, test = ds.split(test_size={c.data.test_size}, seed={c.data.split_seed})\n"
        f"model = tc.MLP(train.n_features, hidden={tuple(c.model.hidden)!r}, n_classes=ds.n_classes,\n"
        f"               activation={c.model.activation!r}, seed={t.seed})\n"
        f"run = tc.fit(model, train, test, optimizer={t.optimizer!r}, lr={t.lr!r},\n"
        f"             weight_decay={t.weight_decay!r}, "
        + (f"l1={t.l1!r}, " if t.l1 else "") + f"epochs={t.epochs}, "
        f"batch_size={t.batch_size!r},\n"
        f"             seed={t.seed}, standardize=True, log_every={t.log_every})\n"
        'print(f"test accuracy: {run.metrics[\'test\'][\'accuracy\']:.4f}")\n'
        'run.save("runs/playground")\n'
    )
