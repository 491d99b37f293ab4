"""Putting a finished folder in place in one step, whatever other processes do meanwhile.

Linux's ``renameat2`` swaps two paths atomically (``RENAME_EXCHANGE``) or renames only
if the target is absent (``RENAME_NOREPLACE``): the destination name then always names
one whole folder, never nothing and never a mix, however many processes save there at
once. Elsewhere (or on a file system without it) two plain renames are used, retried
when another process got in between.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

_AT_FDCWD = -100
_NOREPLACE, _EXCHANGE = 1, 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}


def _renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    return function


_RENAMEAT2 = _renameat2()


def _call(src: Path, dst: Path, flags: int) -> bool:
    """renameat2(src, dst, flags); False if this system or file system lacks it."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(dst))


def put_in_place(new: Path, path: Path) -> Path | None:
    """Make the folder ``new`` appear at ``path`` in one step.

    Returns where the folder that was at ``path`` now is (``new``'s old name, for the
    caller to check and remove), or None if ``path`` was free.
    """
    for _ in range(100):  # each turn is lost only to another process's rename
        if not os.path.lexists(path):
            try:
                if _call(new, path, _NOREPLACE):
                    return None
            except FileExistsError:
                continue
            try:
                os.rename(new, path)  # no renameat2: replaces at most an empty folder
                return None
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                continue
        try:
            if _call(new, path, _EXCHANGE):
                return new
        except FileNotFoundError:
            continue
        old = new.with_name(new.name[:-len(".tmp")] + ".old" if new.name.endswith(".tmp")
                            else new.name + ".old")
        try:
            os.rename(path, old)
        except FileNotFoundError:
            continue
        try:
            os.rename(new, path)
        except OSError:
            os.rename(old, new)  # another save got in between: try again
            continue
        return old
    raise OSError(errno.EBUSY, "other processes keep replacing it", str(path))


def swap_back(new: Path, path: Path) -> None:
    """Undo ``put_in_place`` that returned ``new`` (the old folder there)."""
    if not _call(new, path, _EXCHANGE):
        tmp = new.with_name(new.name + ".back")
        os.rename(path, tmp)
        os.rename(new, path)
        os.rename(tmp, new)
