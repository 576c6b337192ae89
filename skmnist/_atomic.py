"""Atomic file writes: a file is replaced whole, or not at all.

Every file skmnist writes (models, IDX files, the command line's CSV,
plots) goes through :func:`atomic_write`: the data is written to a
temporary file in the target's folder, flushed and synced to the disk, then
renamed over the target with :func:`os.replace`, which the operating system
does atomically; the folder is synced last, so the rename survives a power
cut. A full disk, an error or a ``KeyboardInterrupt`` while writing leaves
the previous file as it was and removes the temporary file. A process killed
outright (``SIGKILL``, a power cut) can leave the temporary file behind, but
never a damaged target: such a leftover is named ``.<name>.<random>.tmp``
next to the target and can be deleted.

:func:`check_writable` checks, before any long work, that
:func:`atomic_write` will be able to write a file: the folder exists and can
take a new file, and the name is not a folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_write", "check_writable", "temporary_name"]

_TRIES = 100


def temporary_name(path: str | os.PathLike) -> str:
    """The name of a temporary file for ``path``: ``.<name>.<random>.tmp`` beside it.

    Examples
    --------
    >>> from skmnist._atomic import temporary_name
    >>> import re
    >>> bool(re.fullmatch(r"out/\\.model\\.skmnist\\.[0-9a-f]{8}\\.tmp",
    ...                   temporary_name("out/model.skmnist")))
    True
    """
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")


def _target(path: str | os.PathLike) -> str:
    """The file that writing ``path`` replaces: a link's target, as open() writes."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return os.path.realpath(path) if os.path.islink(path) else path


def _create(target: str, existing: os.stat_result | None) -> tuple[int, str]:
    """A new temporary file beside ``target``: its descriptor and its name.

    Created as open() creates a file, so that the permissions are those of a
    new file (the umask applies), or those of the file it replaces.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_TRIES):
        name = temporary_name(target)
        try:
            fd = os.open(name, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as error:  # named by its folder, not the temporary name
            folder = os.path.dirname(target) or os.curdir
            raise type(error)(error.errno, error.strerror, folder) from None
        if existing is not None:
            try:
                os.chmod(name, stat.S_IMODE(existing.st_mode) & 0o777)
            except OSError:  # kept as a new file's
                pass
        return fd, name
    raise FileExistsError(
        errno.EEXIST, f"no free temporary name after {_TRIES} tries", target
    )


def _sync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (where the system allows it)."""
    try:
        fd = os.open(folder or os.curdir, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to sync a folder
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "wb", **open_kwargs: Any
) -> Iterator[IO]:
    """Write the file ``path`` whole or not at all; yields a file object to write.

    The file object writes a temporary file in the same folder (see the
    module documentation); when the block ends without an error, the data is
    synced to the disk and the temporary file replaces ``path``. On any
    error (a full disk, an exception in the block, a ``KeyboardInterrupt``)
    the temporary file is removed and ``path`` is left as it was. A new file
    gets the permissions that ``open(path, "w")`` would give it; a replaced
    file keeps its permission bits. Writing through a symbolic link replaces
    the file it points to. A target that exists but is not a regular file (a
    device such as ``/dev/null``, a named pipe) is written in place.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    mode : {"wb", "w"}, default="wb"
        Binary or text, as for :func:`open`.
    **open_kwargs
        Passed to :func:`open` (``encoding``, ``newline``, ...).

    Yields
    ------
    file : file object
        The temporary file, open for writing.

    Raises
    ------
    PermissionError
        If ``path`` exists and is not writable, as :func:`open` would.
    OSError
        If the folder cannot take the temporary file, or a write fails.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skmnist._atomic import atomic_write
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "numbers.txt")
    ...     with atomic_write(path, "w") as file:
    ...         _ = file.write("1 2 3")
    ...     try:
    ...         with atomic_write(path, "w") as file:
    ...             _ = file.write("half")
    ...             raise RuntimeError("failed while writing")
    ...     except RuntimeError:
    ...         pass
    ...     print(Path(path).read_text(), os.listdir(folder))
    1 2 3 ['numbers.txt']
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes with mode 'w' or 'wb', got {mode!r}")
    target = _target(path)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        if stat.S_ISDIR(existing.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), target)
        with open(target, mode, **open_kwargs) as file:  # a device, a pipe
            yield file
        return
    if existing is not None and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), target)
    fd, temporary = _create(target, existing)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError) and exc.errno and exc.filename is None:
            # A full disk's ENOSPC names no file: say which one was written.
            raise OSError(exc.errno, exc.strerror, target) from exc
        raise
    _sync_folder(os.path.dirname(target))


def check_writable(path: str | os.PathLike) -> None:
    """Raise the OSError that writing ``path`` with :func:`atomic_write` would.

    Checks, without touching ``path``, that its folder exists and can take a
    new file (by creating and removing a temporary one there: so a read-only
    file system or folder is found, for any user) and that ``path`` is not a
    folder or a read-only file.

    Examples
    --------
    >>> from skmnist._atomic import check_writable
    >>> check_writable("/no/such/folder/model.skmnist")
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory: '/no/such/folder'
    """
    target = _target(path)
    folder = os.path.dirname(target) or os.curdir
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), target)
    if not os.path.isdir(folder):
        code = errno.ENOTDIR if os.path.exists(folder) else errno.ENOENT
        raise OSError(code, os.strerror(code), folder)
    if os.path.exists(target) and not stat.S_ISREG(os.stat(target).st_mode):
        return  # a device or a pipe: written in place
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), target)
    fd, temporary = _create(target, None)
    os.close(fd)
    os.unlink(temporary)
