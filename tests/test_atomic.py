"""A save never destroys the file it replaces: every write is atomic.

A full disk (simulated, and a real tiny tmpfs where the tests may mount one),
an error or an interrupt while writing, and a process killed mid-write all
leave the previous file whole; the temporary file is removed, except after
SIGKILL, which leaves a recognisable ``.<name>.<random>.tmp``. The command
line refuses an output it cannot write before it trains.
"""

import errno
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skmnist import MLPDigitClassifier
from skmnist._atomic import atomic_write, check_writable
from skmnist.cli import main
from skmnist.datasets import read_idx, write_idx
from skmnist.persistence import load_model, load_model_file, save_model, save_model_file

ROOT = Path(__file__).resolve().parents[1]
TEMPORARY = re.compile(r"\.(.+)\.[0-9a-f]{8}\.tmp")


@pytest.fixture(scope="module")
def models():
    """A small fitted classifier (the good file) and a larger one to save over it."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    small = MLPDigitClassifier((4,), max_iter=1, device="cpu", random_state=0)
    large = MLPDigitClassifier((256, 256), max_iter=1, device="cpu", random_state=0)
    with pytest.warns(Warning):
        small.fit(X, y)
    with pytest.warns(Warning):
        large.fit(X, y)
    return small, large


class _FullDisk(io.FileIO):
    """A file on a disk with ``room`` bytes left: then writes fail with ENOSPC."""

    room = 1000

    def write(self, data) -> int:
        written = getattr(self, "written", 0)
        if written + len(data) > self.room:
            if self.room > written:
                super().write(bytes(data)[: self.room - written])
            self.written = self.room
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written = written + len(data)
        return super().write(data)


_fdopen = os.fdopen


def _full_disk_fdopen(fd, mode="r", **kwargs):
    """os.fdopen, whose files for writing fail as on a full disk."""
    if not any(flag in mode for flag in "wax+"):
        return _fdopen(fd, mode, **kwargs)  # reading the model is untouched
    buffered = io.BufferedWriter(_FullDisk(fd, "wb"))
    if "b" in mode:
        return buffered
    return io.TextIOWrapper(
        buffered, encoding=kwargs.get("encoding"), newline=kwargs.get("newline")
    )


def _only(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def _plot(path):
    pytest.importorskip("matplotlib")
    from skmnist.plotting import plot_confusion_matrix

    plot_confusion_matrix([0, 1, 2, 2] * 50, [0, 1, 1, 2] * 50, path)


@pytest.mark.parametrize(
    "name, write, check",
    [
        (
            "model.skmnist",
            lambda path, models: save_model(models[1], path),
            lambda path: load_model(path).n_iter_ == 1,
        ),
        (
            "model.joblib.gz",
            lambda path, models: save_model_file(models[1], path),
            lambda path: load_model_file(path, allow_pickle=True).n_iter_ == 1,
        ),
        (
            "images-idx3-ubyte.gz",
            lambda path, models: write_idx(path, np.ones((500, 28, 28), np.float64)),
            lambda path: read_idx(path).shape == (2, 3),
        ),
        (
            "confusion.png",
            lambda path, models: _plot(path),
            lambda path: path.read_bytes().startswith(b"\x89PNG"),
        ),
    ],
)
def test_a_full_disk_leaves_the_previous_file_whole(
    tmp_path, monkeypatch, models, name, write, check
):
    path = tmp_path / name
    if name.endswith(".png"):
        _plot(path)
    elif "idx" in name:
        write_idx(path, np.zeros((2, 3), np.uint8))
    else:
        save_model_file(models[0], path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "fdopen", _full_disk_fdopen)
    with pytest.raises(OSError) as raised:
        write(path, models)
    assert raised.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before and check(path)
    _only(tmp_path, name)


def test_a_full_disk_leaves_the_previous_predictions_csv_whole(
    tmp_path, monkeypatch, models, capsys
):
    model = tmp_path / "model.skmnist"
    save_model(models[0], model)
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((3000, 64)))
    csv = tmp_path / "predictions.csv"
    csv.write_text("the previous predictions\n")
    monkeypatch.setattr(os, "fdopen", _full_disk_fdopen)
    status = main(["predict", str(model), str(images), "--output", str(csv)])
    error = capsys.readouterr().err
    assert status == 1 and "No space left" in error and "predictions.csv" in error
    assert csv.read_text() == "the previous predictions\n"
    _only(tmp_path, "model.skmnist", "images.npy", "predictions.csv")


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_error_while_writing_removes_the_temporary_file(tmp_path, error):
    path = tmp_path / "data.bin"
    path.write_bytes(b"previous")
    with pytest.raises(error), atomic_write(path) as file:
        file.write(b"half of the new")
        raise error
    assert path.read_bytes() == b"previous"
    _only(tmp_path, "data.bin")


def _can_mount() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs: a real full disk (needs root on Linux)."""
    if not _can_mount():
        pytest.skip("mounting a tmpfs needs root on Linux")
    folder = tmp_path / "tiny"
    folder.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)]
    if subprocess.run(command, capture_output=True).returncode:
        pytest.skip("tmpfs could not be mounted")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_really_full_disk_leaves_the_previous_model_whole(tiny_disk, models):
    path = tiny_disk / "model.skmnist"
    save_model(models[0], path)
    before = path.read_bytes()
    with pytest.raises(OSError) as raised:
        save_model(models[1], path)  # ~1.3 MB of weights on 256 KiB
    assert raised.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and load_model(path).n_iter_ == 1
    _only(tiny_disk, "model.skmnist")


# Every file opened for writing writes 1000 bytes, says so, and hangs.
KILLED_WRITER = """
import builtins, os, sys, time
import numpy as np
from skmnist import PixelScaler
from skmnist.persistence import save_model

class Slow:
    def __init__(self, file):
        self.file = file
    def write(self, data):
        self.file.write(bytes(data)[:1000])
        self.file.flush()
        print("writing", flush=True)
        time.sleep(600)
    def __getattr__(self, name):
        return getattr(self.file, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.file.close()

def slowed(opener):
    def open_slowly(file, mode="r", *args, **kwargs):
        opened = opener(file, mode, *args, **kwargs)
        return Slow(opened) if "w" in mode else opened
    return open_slowly

builtins.open, os.fdopen = slowed(builtins.open), slowed(os.fdopen)
scaler = PixelScaler(standardize=True).fit(np.arange(3000.0).reshape(3, -1))
save_model(scaler, sys.argv[1])
"""


@pytest.mark.slow  # a Python process that imports torch
def test_a_process_killed_while_saving_leaves_the_previous_model_whole(
    tmp_path, models
):
    path = tmp_path / "good.skmnist"
    save_model(models[0], path)
    before = path.read_bytes()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert child.stdout.readline() == "writing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
    assert path.read_bytes() == before and load_model(path).n_iter_ == 1
    # The one leftover: the killed write's temporary file, named after it.
    (left,) = [p.name for p in tmp_path.iterdir() if p != path]
    assert TEMPORARY.fullmatch(left).group(1) == "good.skmnist"


def test_a_new_file_gets_the_umask_and_a_replaced_one_keeps_its_mode(tmp_path):
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    old.write_text("old")
    old.chmod(0o600)
    mask = os.umask(0o027)
    try:
        for path in (new, old):
            with atomic_write(path, "w") as file:
                file.write("data")
    finally:
        os.umask(mask)
    assert (new.stat().st_mode & 0o777, old.stat().st_mode & 0o777) == (0o640, 0o600)
    assert new.read_text() == old.read_text() == "data"


def test_writing_through_a_link_replaces_its_target(tmp_path):
    target = tmp_path / "target.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    with atomic_write(link) as file:
        file.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_written_in_place(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    check_writable(pipe)
    with atomic_write(pipe) as file:
        file.write(b"through the pipe")
    reader.join(timeout=30)
    assert received == [b"through the pipe"] and pipe.is_fifo()


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder that cannot take a new file, for any user."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if not _can_mount():
        folder.chmod(0o555)
        if os.access(folder, os.W_OK):
            pytest.skip("this user can write to any folder")
        yield folder
        folder.chmod(0o755)
        return
    command = ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)]
    if subprocess.run(command, capture_output=True).returncode:
        pytest.skip("a read-only tmpfs could not be mounted")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_cli_train_refuses_a_read_only_folder_before_training(read_only_folder, capsys):
    out = read_only_folder / "model.skmnist"
    started = time.perf_counter()
    status = main(["train", "--source", "sample", "--quiet", "--out", str(out)])
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert status == 1 and elapsed < 2, (elapsed, err)
    assert "cannot write the model" in err and str(read_only_folder) in err
    assert "read-only" in err.lower() or "permission denied" in err.lower()
    assert not out.exists()


def test_cli_predict_and_evaluate_refuse_a_read_only_folder_before_the_work(
    read_only_folder, tmp_path, models, capsys
):
    model = tmp_path / "model.skmnist"
    save_model(models[0], model)
    status = main(
        [
            "predict",
            str(model),
            "missing.npy",
            "--output",
            str(read_only_folder / "p.csv"),
        ]
    )
    assert status == 1 and "cannot write the predictions" in capsys.readouterr().err
    if _has_matplotlib():
        status = main(
            [
                "evaluate",
                str(model),
                "--source",
                "sample",
                "--plot",
                str(read_only_folder / "c.png"),
            ]
        )
        assert status == 1 and "cannot write the plot" in capsys.readouterr().err


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_check_writable_names_what_is_wrong(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        check_writable(tmp_path / "folder")
    with pytest.raises(FileNotFoundError, match="missing"):
        check_writable(tmp_path / "missing" / "model.skmnist")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        check_writable(tmp_path / "file" / "model.skmnist")
    check_writable(tmp_path / "model.skmnist")
    _only(tmp_path, "folder", "file")
