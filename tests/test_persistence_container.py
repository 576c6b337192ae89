"""The container of secure model files: what is read, and how much work it costs.

Hostile zip archives and schemas, built as an attacker would (valid CRC-32s,
edited schema.json), must be refused quickly: the work of loading is linear
in the file's size, and what a file describes is bounded before it is built.
"""

import contextlib
import io
import json
import multiprocessing
import os
import queue
import struct
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from test_persistence import (
    classifier_state,
    json_node,
    npy,
    pack,
    tiny,
    unpack,
    write,
)

import skmnist._container
from skmnist import PixelScaler
from skmnist._container import MAX_NODES, array_sizes, expansion
from skmnist._skops_format import FileError
from skmnist._training.network import build_mlp, from_portable, to_portable
from skmnist.persistence import load_model, load_model_file, save_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A pipeline's file, with the optimizer's state: the most a file holds."""
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(PixelScaler(max_value=16), tiny(keep_optimizer_state=True))
    path = tmp_path_factory.mktemp("model") / "pipeline.skmnist"
    save_model(model.fit(X[:300], y[:300]), path)
    return path.read_bytes()


def refused_quickly(data, tmp_path, match, seconds=1.0):
    path = tmp_path / "hostile.skmnist"
    path.write_bytes(data)
    start = time.perf_counter()
    with pytest.raises(FileError, match=match) as error:
        load_model(path)
    elapsed = time.perf_counter() - start
    assert str(path) in str(error.value)
    assert elapsed < seconds, f"refused after {elapsed:.1f} s"


# --------------------------------------------------------------------------
# Zip archives written by hand, as an attacker would
# --------------------------------------------------------------------------
def local_header(name, data):
    crc = zlib.crc32(data)
    fields = (b"PK\x03\x04", 20, 0, 0, 0, 0, 0x21, crc, len(data), len(data))
    return struct.pack("<4s2B4HL2L2H", *fields, len(name), 0) + name


def directory_entry(name, data, offset):
    crc = zlib.crc32(data)
    fields = (b"PK\x01\x02", 20, 0, 20, 0, 0, 0, 0, 0x21, crc, len(data), len(data))
    return (
        struct.pack("<4s4B4HL2L5H2L", *fields, len(name), 0, 0, 0, 0, 0, offset) + name
    )


def archive(body, entries):
    """``body`` (the members), then a central directory of ``entries``."""
    directory = b"".join(entries)
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory),
        len(body), 0,
    )  # fmt: skip
    return body + directory + end


def test_many_entries_over_one_member_are_refused_at_once(tmp_path):
    """10,000 directory entries over one 4 MB member: 65 s to refuse before."""
    data = b"x" * 2**22
    name = b"schema.json"
    body = local_header(name, data) + data
    hostile = archive(body, [directory_entry(name, data, 0)] * 10_000)
    assert len(hostile) < 5 * 2**20
    refused_quickly(hostile, tmp_path, r"two members are named schema\.json")


def test_overlapping_members_are_refused(tmp_path):
    """Members with their own names and headers, each inside the one before."""
    data = b"x" * 2**18
    spans = [data]  # built from the last: each member holds the next ones
    for index in range(200, 0, -1):
        spans.insert(0, local_header(f"m{index:03}.npy".encode(), spans[0]) + spans[0])
    body = local_header(b"schema.json", spans[0]) + spans[0]
    entries, offset = [directory_entry(b"schema.json", spans[0], 0)], 0
    for index in range(1, len(spans)):
        offset = body.index(f"m{index:03}.npy".encode(), offset) - 30
        entries.append(
            directory_entry(f"m{index:03}.npy".encode(), spans[index], offset)
        )
    with zipfile.ZipFile(io.BytesIO(archive(body, entries))) as zf:
        assert zf.testzip() is None  # a valid archive, every CRC-32 right
    refused_quickly(archive(body, entries), tmp_path, r"members schema\.json and m001")


def central_directory(data):
    """The offsets of the central directory entries of a file."""
    start = data.rindex(b"PK\x05\x06")
    count, _, offset = struct.unpack_from("<H2L", data, start + 10)
    entries, position = [], offset
    for _ in range(count):
        entries.append(position)
        lengths = struct.unpack_from("<3H", data, position + 28)
        position += 46 + sum(lengths)
    return entries


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda member, size: {42: member + 5}, "has no local header where"),
        (lambda member, size: {42: 0}, "overlap"),
        (lambda member, size: {20: size - member, 24: size - member}, "past the end"),
        (lambda member, size: {20: 10}, r"claims \d+ bytes"),
    ],
    ids=["offset-inside-a-member", "offset-of-another", "past-the-end", "sizes"],
)
def test_members_must_lie_inside_the_file(saved, tmp_path, edit, message):
    data = bytearray(saved)
    entry = central_directory(data)[-1]  # the last member
    (member,) = struct.unpack_from("<L", data, entry + 42)
    for field, value in edit(member, len(data)).items():
        struct.pack_into("<L", data, entry + field, value)
    with pytest.raises(FileError, match=message):
        load_model(write(tmp_path, bytes(data)))


def test_two_members_of_one_name_are_refused(saved, tmp_path):
    """The second silently won: here, other classes with the same shape."""
    schema, members = unpack(saved)
    member = classifier_state(schema)["classes_"]["file"]
    data = pack(schema, members)
    with (
        zipfile.ZipFile(tmp_path / "twice.skmnist", "w") as zf,
        pytest.warns(UserWarning, match="Duplicate name"),
    ):
        with zipfile.ZipFile(io.BytesIO(data)) as original:
            for info in original.infolist():
                zf.writestr(info, original.read(info))
        zf.writestr(member, npy(np.arange(10, 20)))
    with pytest.raises(
        FileError, match=rf"twice.skmnist' .*two members are named {member}"
    ):
        load_model(tmp_path / "twice.skmnist")


# --------------------------------------------------------------------------
# What schema.json describes
# --------------------------------------------------------------------------
def list_node(content, ident):
    node = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode"}
    return {**node, "content": content, "__id__": ident}


def cached(ident):
    return {
        "__class__": "list",
        "__module__": "builtins",
        "__loader__": "CachedNode",
        "__id__": ident,
    }


def shared_lists(depth, width=10, first=10**6):
    """Lists of ``width`` references to the list below: width**depth floats."""
    node = list_node([json_node(0.5)] * width, first)
    for level in range(1, depth):
        ident = first + level
        node = list_node([node] + [cached(ident - 1)] * (width - 1), ident)
    return node


@pytest.mark.parametrize("attribute", ["loss_curve_", "hidden_layer_sizes", "t_"])
def test_shared_references_are_bounded_before_anything_is_built(
    saved, tmp_path, attribute
):
    """10**12 floats in 2 KB of schema: load_model ran until killed."""
    schema, members = unpack(saved)
    classifier_state(schema)[attribute] = shared_lists(12)
    refused_quickly(pack(schema, members), tmp_path, r"describe more than 1000000 obj")


def test_shared_arrays_are_bounded_by_the_file(saved, tmp_path):
    """Few references, each to the largest array: more elements than bytes."""
    schema, members = unpack(saved)
    largest = max(
        (node for node in nodes(schema) if node["__loader__"] == "NdArrayNode"),
        key=lambda node: len(members[node["file"]]),
    )
    copies = len(saved) // (len(members[largest["file"]]) // 8) + 1
    classifier_state(schema)["loss_curve_"] = list_node(
        [cached(largest["__id__"])] * copies, 1
    )
    refused_quickly(pack(schema, members), tmp_path, r"arrays of more than \d+ elem")


def nodes(value):
    """Every skops node in a schema."""
    if isinstance(value, list):
        for item in value:
            yield from nodes(item)
    elif isinstance(value, dict):
        if "__loader__" in value:
            yield value
        for item in value.values():
            yield from nodes(item)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda state, root: state.update(t_=cached(root)), "holds itself"),
        (lambda state, root: state.update(t_=cached(12345)), r"object \(12345\) that"),
        (lambda state, root: state["t_"].update(__id__="7"), "not an integer"),
    ],
    ids=["cycle", "unknown-reference", "id-of-another-type"],
)
def test_references_must_name_an_earlier_object(saved, tmp_path, edit, message):
    schema, members = unpack(saved)
    edit(classifier_state(schema), schema["__id__"])
    with pytest.raises(FileError, match=message):
        load_model(write(tmp_path, pack(schema, members)))


@pytest.mark.parametrize(
    "array, message",
    [
        (np.arange(11), r"describes 11 elements of int64 in 208 bytes"),
        (np.array([0, "x", None], dtype=object), "array of Python objects"),
    ],
)
def test_array_headers_must_describe_their_member(saved, tmp_path, array, message):
    schema, members = unpack(saved)
    member = classifier_state(schema)["classes_"]["file"]
    data = npy(array, allow_pickle=array.dtype == object)
    if array.dtype != object:  # the header of 11 elements, the data of 10
        data = data[:-8]
    members[member] = data
    with pytest.raises(FileError, match=message):
        load_model(write(tmp_path, pack(schema, members)))


def test_real_files_are_far_inside_the_bounds(saved):
    """A pipeline holding Adam's state: ~300 objects, nothing shared expands."""
    with zipfile.ZipFile(io.BytesIO(saved)) as zf:
        schema = json.loads(zf.read("schema.json"))
        files = {node["file"] for node in nodes(schema) if "file" in node}
        arrays = array_sizes(zf, files, "saved")
    written, expanded, elements = expansion(schema, arrays, "saved", 10**18)
    assert expanded == written < MAX_NODES / 1000
    assert elements == sum(arrays.values()) < len(saved) / 4


def test_a_network_of_many_layers_is_refused_before_it_is_laid_out():
    """10,000 layers described, one stored: 8.6 s to lay out and refuse before."""
    arch = {"n_features": 4, "hidden_layer_sizes": [3], "n_outputs": 2}
    portable = to_portable(build_mlp(**arch), arch)
    portable["architecture"] = {**arch, "hidden_layer_sizes": [3] * 10_000}
    start = time.perf_counter()
    with pytest.raises(
        ValueError, match=r"\(4 arrays\) do not match .* \(10000 hidden layers\)"
    ) as error:
        from_portable(portable, "cpu")
    assert time.perf_counter() - start < 1
    assert len(str(error.value)) < 300


# --------------------------------------------------------------------------
# What is read: a regular file, of a bounded size
# --------------------------------------------------------------------------
def load_each(names, results):
    """In a forked process: each file's ValueError and how long it took."""
    import resource  # POSIX only

    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as statm:  # what this process maps already
        mapped = int(statm.read().split()[0]) * page
    resource.setrlimit(resource.RLIMIT_AS, (mapped + 2**30, mapped + 2**30))
    for name in names:
        for load in (load_model, load_model_file):
            start = time.perf_counter()
            try:
                load(name)
            except ValueError as exc:
                results.put((time.perf_counter() - start, str(exc)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_devices_and_fifos_are_refused_unread(tmp_path):
    """Read until memory ran out (devices), or blocked for ever (a FIFO).

    In a forked process with a memory limit and a timeout, so that a
    regression fails the test instead of the machine.
    """
    for target in ["/dev/zero", "/dev/urandom"]:
        (tmp_path / f"{target[5:]}.skmnist").symlink_to(target)
    os.mkfifo(tmp_path / "fifo.skmnist")
    names = [str(tmp_path / f"{n}.skmnist") for n in ["zero", "urandom", "fifo"]]
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=load_each, args=(names, results))
    process.start()
    process.join(30)
    if process.is_alive():
        process.kill()
        process.join()
    answers = []
    with contextlib.suppress(queue.Empty):
        for _ in range(6):
            answers.append(results.get(timeout=5))
    assert len(answers) == 6, (process.exitcode, answers)
    assert all(seconds < 1 for seconds, _ in answers), answers
    for name in names:
        assert (
            sum(m.startswith(f"{name!r} is not a regular file") for _, m in answers)
            == 2
        )


def test_files_over_the_size_bound_are_refused_unread(saved, tmp_path, monkeypatch):
    path = write(tmp_path, saved)
    monkeypatch.setattr(skmnist._container, "MAX_FILE_SIZE", len(saved) - 1)
    for load in (load_model, load_model_file):
        with pytest.raises(FileError, match=rf"too large .* \({len(saved)} bytes"):
            load(path)
    monkeypatch.setattr(skmnist._container, "MAX_FILE_SIZE", len(saved))
    load_model_file(path)


def test_a_folder_is_still_an_os_error(tmp_path):
    for load in (load_model, load_model_file):
        with pytest.raises(IsADirectoryError):
            load(tmp_path)
