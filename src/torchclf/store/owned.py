"""Folders torchclf may replace: only the ones it wrote itself and can recognise.

A run or sweep folder carries a marker file naming its kind, and may be replaced only
while it holds nothing but the files torchclf writes there. Anything else (a user's
folder, a run someone added notes to, a file, the current folder) is refused with a
UserError before any work is done, so saving never destroys what the program did not
create. A folder is written whole into a hidden sibling, then renamed into place;
siblings left behind by a killed process are recognised by their pid and removed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Mapping

from torchclf.errors import UserError
from torchclf.atomic import atomic_write_bytes, current_umask
from torchclf.store.swap import put_in_place, swap_back

log = logging.getLogger(__name__)

MARKER = ".torchclf.json"
RUN_FILES = frozenset({"config.toml", "model.safetensors", "model.json", "history.csv",
                       "metrics.json", "boundary.png", "curves.png", "confusion.png",
                       "boundary.gif", "model.onnx", "model.pt"})
SWEEP_FILES = frozenset({"results.csv", "summary.csv", "summary.png"})
FILES = {"run": RUN_FILES, "sweep": SWEEP_FILES}
SWEEP_HEADER = "config,hidden,activation,optimizer,lr,seed,"


def check_destination(path: str | Path, kind: str = "run") -> Path:
    """``path`` if saving a ``kind`` folder there replaces nothing but torchclf's own files.

    A new path, an empty folder or a torchclf folder of the same kind passes; anything
    else is a UserError naming the problem, raised before any training or writing.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise UserError(f"{str(path)!r} is not a new folder name: choose a folder for the "
                        f"{kind}, e.g. runs/NAME")
    resolved = path.resolve()
    if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents:
        raise UserError(f"{path} is the current folder or one above it: choose a new "
                        f"folder for the {kind}")
    if path.is_symlink():
        raise UserError(f"{path} is a symbolic link: choose a new folder for the {kind}")
    if not path.exists():
        _check_parents(path)
        check_writable(path)
        return path
    if not path.is_dir():
        raise UserError(f"{path} exists and is not a folder: choose a new folder for the "
                        f"{kind}")
    problem = foreign_content(path, kind)
    if problem:
        raise UserError(f"{path} already exists and is not a torchclf {kind} folder "
                        f"({problem}): choose a new folder, or move it away yourself")
    check_writable(path)
    return path


def check_file_destination(path: str | Path, what: str) -> Path:
    """``path`` if a file may be written there: not a folder, its parent not a file."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder: give a file name for the {what}")
    _check_parents(path)
    check_writable(path)
    return path


def check_writable(path: str | Path) -> None:
    """A UserError unless ``path`` can be created or replaced: its folder (or the nearest
    one that exists) must be writable. Checked before the work, so none is lost."""
    path = Path(path)
    folder = next((p for p in path.absolute().parents if p.exists()), None)
    if folder is None or os.access(folder, os.W_OK | os.X_OK):
        return
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only = False
    why = "it is on a read-only file system" if read_only else "permission denied"
    raise UserError(f"cannot write in {folder} ({why}), so {path} cannot be saved: "
                    "choose a folder you can write to")


def _remove_empty(folder: Path, top: Path | None) -> None:
    """rmdir ``folder`` and its parents up to ``top`` while they are empty."""
    if top is None:
        return
    for p in [folder, *folder.parents]:
        try:
            os.rmdir(p)
        except OSError:
            return
        if p == top:
            return


def write_error(path: Path, what: str, error: OSError,
                left: str = "nothing was written") -> UserError:
    """The one line for a write that failed part-way (a full disk, an I/O error)."""
    return UserError(f"cannot write {what} to {path} ({error.strerror or error}): {left}; "
                     "free some space or choose another folder")


def foreign_content(folder: Path, kind: str) -> str:
    """Why ``folder`` is not torchclf's own ``kind`` folder, or "" if it is (or is empty)."""
    try:
        entries = sorted(os.listdir(folder))
    except OSError as e:
        return f"it cannot be read: {e.strerror}"
    if not entries:
        return ""
    allowed = FILES[kind] | {MARKER}
    for name in entries:
        if name not in allowed:
            return f"it holds {name!r}"
        if not (folder / name).is_file() or (folder / name).is_symlink():
            return f"{name!r} is not a file torchclf wrote"
    if MARKER in entries:
        found = _read_marker(folder / MARKER)
        return "" if found == kind else f"its {MARKER} does not mark a {kind} folder"
    return "" if _legacy_match(folder, kind) else f"it has no {MARKER} marker"


def write_folder(path: str | Path, kind: str, fill: Callable[[Path], None]) -> Path:
    """Create ``path`` whole: ``fill`` writes into a hidden sibling, put in place in one
    step (``swap``), so a reader or another writer never sees half of it.

    An existing torchclf folder of the same kind is replaced only once the new one is
    complete; anything else there is refused (``check_destination``). Every save gets a
    new version in its marker (``snapshot`` reads against it). The folder gets the
    permissions the umask gives, like any folder the user makes.
    """
    path = check_destination(path, kind)
    made = next((p for p in [path.parent, *path.parents][::-1] if not p.exists()), None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_siblings(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                    dir=path.parent))
    except OSError as e:
        raise write_error(path, f"the {kind}", e) from None
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        (tmp / MARKER).write_text(json.dumps({"torchclf": kind, "version": uuid.uuid4().hex})
                                  + "\n", encoding="utf-8")
        fill(tmp)
        _swap_into_place(tmp, path, kind)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(path.parent, made)  # the parents this call made, if still empty
        if isinstance(e, OSError):
            raise write_error(path, f"the {kind}", e) from None
        raise
    return path


def reserve_folder(root: str | Path, name: str) -> Path:
    """A new empty folder ``root/name`` (else ``name-2``, ``-3``...), made now: a name is
    taken with one ``mkdir``, so two processes starting together never get the same one.
    ``write_folder`` fills it later; ``release`` removes it if nothing was saved."""
    root = Path(root)
    _check_parents(root / name)
    check_writable(root / name)
    made = [p for p in [root, *root.parents] if not p.exists()]
    i = 1
    while True:
        candidate = root / (name if i == 1 else f"{name}-{i}")
        try:
            root.mkdir(parents=True, exist_ok=True)
            os.mkdir(candidate)
            _RESERVED[candidate] = [candidate, *made]
            return candidate
        except FileExistsError:
            i += 1
        except OSError as e:
            raise UserError(f"cannot create a folder in {root} ({e.strerror}): choose a "
                            "folder you can write to") from None


_RESERVED: dict[Path, list[Path]] = {}


def release(reserved: Path) -> None:
    """Remove a folder ``reserve_folder`` made, and the parents it made for it, if they
    are still empty (nothing was saved)."""
    for folder in _RESERVED.pop(reserved, []):
        try:
            os.rmdir(folder)
        except OSError:
            return


def write_files(folder: str | Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write each of ``files`` (name -> bytes) into ``folder`` atomically, creating it;
    the paths written. If one fails, the files and folders this call created are removed
    again (a file it replaced stays replaced: each write is whole or not at all)."""
    folder = Path(folder)
    first_new = next((p for p in [folder, *folder.parents][::-1] if not p.exists()), None)
    written: list[Path] = []
    try:
        for name, data in files.items():
            path = folder / name
            new = not path.exists()
            atomic_write_bytes(path, data)
            if new:
                written.append(path)
    except BaseException as e:
        if first_new is not None:
            shutil.rmtree(first_new, ignore_errors=True)
        else:
            for path in written:
                path.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise write_error(folder, "the files", e, "the new files were removed") from None
        raise
    return [folder / name for name in files]


def remove_stale_siblings(path: Path) -> list[Path]:
    """Remove hidden temporaries of ``path`` left by torchclf processes that have died."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.[A-Za-z0-9_]+\.(tmp|old)$")
    removed = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return removed
    for sibling in siblings:
        match = pattern.match(sibling.name)
        if not match or sibling.is_symlink() or not sibling.is_dir():
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        inner = sibling / "run" if (sibling / "run").is_dir() else sibling
        if not (inner / MARKER).is_file() and not any(_legacy_match(inner, k) for k in FILES):
            continue
        shutil.rmtree(sibling, ignore_errors=True)
        log.info("removed %s, left behind by an interrupted save", sibling)
        removed.append(sibling)
    return removed


def _swap_into_place(tmp: Path, path: Path, kind: str) -> None:
    check_destination(path, kind)  # it may have changed while the folder was written
    old = put_in_place(tmp, path)
    if old is None:
        return
    problem = foreign_content(old, kind)  # what another process put there meanwhile
    if problem:
        swap_back(old, path)
        shutil.rmtree(old, ignore_errors=True)  # now our new folder
        raise UserError(f"{path} changed while the {kind} was saved and is no longer a "
                        f"torchclf {kind} folder ({problem}): choose a new folder")
    shutil.rmtree(old, ignore_errors=True)


def _check_parents(path: Path) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{parent} is a file, so {path} cannot be created: "
                                "choose another path")
            return


def _read_marker(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data.get("torchclf") if isinstance(data, dict) else None


def _legacy_match(folder: Path, kind: str) -> bool:
    """Folders written before the marker existed: recognised by their own contents."""
    try:
        if kind == "run":
            info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
            return (isinstance(info, dict) and "format_version" in info
                    and isinstance(info.get("versions"), dict)
                    and "torchclf" in info["versions"])
        with (folder / "results.csv").open(encoding="utf-8") as f:
            return f.readline().startswith(SWEEP_HEADER)
    except (OSError, UnicodeDecodeError, ValueError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
