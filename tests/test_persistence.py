"""Secure model files (skmnist.persistence): round trips, no pickle, errors, fuzzing."""

import contextlib
import hashlib
import io
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skmnist import MLPDigitClassifier, PixelScaler, __version__
from skmnist.cli import main
from skmnist.persistence import FORMAT_NAME, FORMAT_VERSION, load_model, save_model

FITTED = [
    "n_features_in_",
    "n_iter_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "t_",
    "device_",
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "_no_improvement_count",
    "_learning_rate",
]


def tiny(**params):
    defaults = dict(hidden_layer_sizes=(8,), max_iter=2, batch_size=64, random_state=0)
    return MLPDigitClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400].astype(np.float32), y[:400]


@pytest.fixture(scope="module")
def pipeline(digits):
    X, y = digits
    return make_pipeline(PixelScaler(max_value=16), tiny()).fit(X, y)


@pytest.fixture(scope="module")
def pipeline_bytes(pipeline, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "pipeline.skmnist"
    save_model(pipeline, path)
    return path.read_bytes()


def round_trip(model, tmp_path, **kwargs):
    path = tmp_path / "model.skmnist"
    save_model(model, path)
    return load_model(path, **kwargs)


def assert_same_classifier(loaded, original, X):
    assert type(loaded) is MLPDigitClassifier
    assert loaded.get_params() == original.get_params()
    assert loaded.classes_.dtype == original.classes_.dtype
    assert np.array_equal(loaded.classes_, original.classes_)
    for name in FITTED:
        assert getattr(loaded, name) == getattr(original, name), name
        assert type(getattr(loaded, name)) is type(getattr(original, name)), name
    if hasattr(original, "feature_names_in_"):
        assert loaded.feature_names_in_.dtype == object
        assert np.array_equal(loaded.feature_names_in_, original.feature_names_in_)
    else:
        assert not hasattr(loaded, "feature_names_in_")
    assert loaded._architecture == original._architecture
    assert np.array_equal(loaded.predict_proba(X), original.predict_proba(X))
    assert np.array_equal(loaded.predict(X), original.predict(X))
    for a, b in zip(
        loaded.module_.parameters(), original.module_.parameters(), strict=True
    ):
        assert a.dtype == b.dtype and torch.equal(a, b)


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels",
    [
        lambda y: y,
        lambda y: y.astype(np.int32),
        lambda y: np.array(["zero", "one", "two", "3", "4", "5", "6", "7", "8", "9"])[
            y
        ],
        lambda y: y.astype(str).astype(object),
        lambda y: y.astype(np.float64) * 10,
        lambda y: y > 4,
    ],
    ids=["int64", "int32", "str", "object-str", "float", "bool"],
)
def test_classifier_round_trip(digits, tmp_path, labels):
    X, y = digits
    clf = tiny().fit(X, labels(y))
    assert_same_classifier(round_trip(clf, tmp_path), clf, X)


def test_float64_model(digits, tmp_path):
    X, y = digits
    clf = tiny().fit(X.astype(np.float64), y)
    loaded = round_trip(clf, tmp_path)
    assert next(loaded.module_.parameters()).dtype == torch.float64
    assert_same_classifier(loaded, clf, X.astype(np.float64))


def test_early_stopping_model(digits, tmp_path):
    X, y = digits
    clf = tiny(early_stopping=True, max_iter=3).fit(X, y)
    assert clf.validation_scores_ and clf.best_loss_ is None
    assert_same_classifier(round_trip(clf, tmp_path), clf, X)


def test_parameters_keep_their_types(digits, tmp_path):
    X, y = digits
    clf = tiny(
        hidden_layer_sizes=[8, 4],
        activation="tanh",
        solver="sgd",
        dropout=0.25,
        class_weight={0: 2.0, 9: 0.5},
        n_iter_no_change=np.inf,
        learning_rate="adaptive",
        alpha=np.float64(1e-3),
        max_iter=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        clf.fit(X, y)
    loaded = round_trip(clf, tmp_path)
    assert loaded.hidden_layer_sizes == [8, 4]
    assert loaded.class_weight == {0: 2.0, 9: 0.5}
    assert loaded.n_iter_no_change == np.inf
    assert_same_classifier(loaded, clf, X)
    linear = tiny(hidden_layer_sizes=()).fit(X, y)
    loaded = round_trip(linear, tmp_path)
    assert loaded.hidden_layer_sizes == ()
    assert_same_classifier(loaded, linear, X)


def test_feature_names(digits, tmp_path):
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    clf = tiny().fit(frame, y)
    assert_same_classifier(round_trip(clf, tmp_path), clf, frame)


@pytest.mark.parametrize(
    "params", [{}, {"max_value": "auto", "standardize": True, "clip": False}]
)
def test_pixel_scaler_round_trip(digits, tmp_path, params):
    X, _ = digits
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(X.shape[1])])
    scaler = PixelScaler(**params).fit(frame)
    loaded = round_trip(scaler, tmp_path, device="cpu")
    assert type(loaded) is PixelScaler
    assert loaded.get_params() == scaler.get_params()
    for name in ["data_max_", "mean_", "scale_", "n_features_in_"]:
        assert getattr(loaded, name) == getattr(scaler, name)
    assert list(loaded.feature_names_in_) == list(scaler.feature_names_in_)
    assert np.array_equal(loaded.transform(frame), scaler.transform(frame))


def test_pipeline_round_trip(digits, pipeline, tmp_path):
    X, _ = digits
    loaded = round_trip(pipeline, tmp_path)
    assert type(loaded) is Pipeline
    assert [name for name, _ in loaded.steps] == ["pixelscaler", "mlpdigitclassifier"]
    assert (
        loaded.get_params(deep=False).keys() == pipeline.get_params(deep=False).keys()
    )
    assert loaded[0].get_params() == pipeline[0].get_params()
    assert_same_classifier(loaded[-1], pipeline[-1], PixelScaler(16).fit_transform(X))
    assert np.array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))


def test_pipeline_with_own_step_names(digits, tmp_path):
    X, y = digits
    model = Pipeline(
        [("scale", PixelScaler(max_value=16, standardize="mnist")), ("mlp", tiny())]
    ).fit(X, y)
    loaded = round_trip(model, tmp_path)
    assert [name for name, _ in loaded.steps] == ["scale", "mlp"]
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_same_model_same_bytes(pipeline, tmp_path):
    save_model(pipeline, tmp_path / "a.skmnist")
    save_model(pipeline, tmp_path / "b.skmnist")
    data = (tmp_path / "a.skmnist").read_bytes()
    assert data == (tmp_path / "b.skmnist").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        metadata = json.loads(archive.read("metadata.json"))
        assert set(archive.namelist()) == {"metadata.json", *metadata["members"]}
    assert metadata["format"] == FORMAT_NAME
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["skmnist_version"] == __version__


def test_partial_fit_and_warm_start_after_loading(digits, pipeline, tmp_path):
    X, y = digits
    Xs = pipeline[0].transform(X)
    clf = round_trip(pipeline[-1], tmp_path)
    n_iter, t = clf.n_iter_, clf.t_
    clf.partial_fit(Xs, y)
    assert clf.n_iter_ == 1 and clf.t_ == t + len(X)  # n_iter_: this call's
    assert len(clf.loss_curve_) == n_iter + 1
    clf.set_params(warm_start=True, max_iter=1).fit(Xs, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == n_iter + 2


def test_explicit_device(pipeline, tmp_path):
    save_model(pipeline, tmp_path / "m.skmnist")
    assert load_model(tmp_path / "m.skmnist", device="cpu")[-1].device_ == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            load_model(tmp_path / "m.skmnist", device="cuda")


# --------------------------------------------------------------------------
# Helpers that take a model file apart and put it back together
# --------------------------------------------------------------------------
def unpack(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(members.pop("metadata.json")), members


def pack(metadata, members, *, fix_checksums=True):
    if fix_checksums and isinstance(metadata, dict):
        metadata["members"] = {
            name: hashlib.sha256(blob).hexdigest() for name, blob in members.items()
        }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        for name, blob in members.items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_model_loads_on_cpu(pipeline_bytes, tmp_path):
    metadata, members = unpack(pipeline_bytes)
    classifier = metadata["estimator"]["steps"][1]["estimator"]
    classifier["fitted"]["device_"] = "cuda:0"
    path = tmp_path / "gpu.skmnist"
    path.write_bytes(pack(metadata, members))
    with pytest.warns(UserWarning, match="'cuda:0', which is not available"):
        loaded = load_model(path)
    assert loaded[-1].device_ == "cpu"
    assert next(loaded[-1].module_.parameters()).device.type == "cpu"


# --------------------------------------------------------------------------
# Loading runs no code
# --------------------------------------------------------------------------
@pytest.fixture
def pickle_calls(monkeypatch):
    """Record (and refuse) every use of pickle and of np.load's pickle path."""
    calls = []

    def refuse(name):
        def fail(*args, **kwargs):
            calls.append(name)
            raise RuntimeError(f"pickle.{name} was called")

        return fail

    for name in ["load", "loads", "Unpickler"]:
        monkeypatch.setattr(pickle, name, refuse(name))
    read_array = np.lib.format.read_array

    def checked_read_array(*args, **kwargs):
        if kwargs.get("allow_pickle", args[1] if len(args) > 1 else False):
            calls.append("read_array(allow_pickle=True)")
        return read_array(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "read_array", checked_read_array)
    return calls


def test_loading_never_uses_pickle(pipeline, pipeline_bytes, tmp_path, pickle_calls):
    path = tmp_path / "m.skmnist"
    path.write_bytes(pipeline_bytes)
    X = np.zeros((2, 64), dtype=np.float32)
    assert np.array_equal(load_model(path).predict_proba(X), pipeline.predict_proba(X))
    assert pickle_calls == []


def test_object_array_member_is_refused(pipeline_bytes, tmp_path, pickle_calls):
    metadata, members = unpack(pipeline_bytes)
    member = metadata["estimator"]["steps"][1]["estimator"]["classes_"]["values"]
    members[member] = npy(np.array([0, "x", None], dtype=object), allow_pickle=True)
    path = tmp_path / "objects.skmnist"
    path.write_bytes(pack(metadata, members))
    with pytest.raises(ValueError, match="holds Python objects"):
        load_model(path)
    assert pickle_calls == []


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
def write(tmp_path, data, name="bad.skmnist"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_not_a_model_file(tmp_path, pipeline):
    for name, data in [("text.skmnist", b"hello"), ("empty.skmnist", b"")]:
        with pytest.raises(ValueError, match=f"{name}' is not a skmnist model file"):
            load_model(write(tmp_path, data, name))
    joblib.dump(pipeline, tmp_path / "m.joblib")
    with pytest.raises(ValueError, match="is not a skmnist model file"):
        load_model(tmp_path / "m.joblib")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.txt", "x")
    with pytest.raises(ValueError, match=r"is not a skmnist model file.*no metadata"):
        load_model(write(tmp_path, buffer.getvalue()))
    with pytest.raises(ValueError, match="is not a skmnist model file"):
        load_model(write(tmp_path, pack({"format": "other"}, {})))
    with pytest.raises(ValueError, match=r"is not a skmnist model file.*not JSON"):
        load_model(write(tmp_path, pack_raw_metadata(b"{not json")))
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.skmnist")


def pack_raw_metadata(raw):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", raw)
    return buffer.getvalue()


def test_newer_format_version(pipeline_bytes, tmp_path):
    metadata, members = unpack(pipeline_bytes)
    metadata.update(format_version=FORMAT_VERSION + 1, skmnist_version="9.1.0")
    with pytest.raises(ValueError, match=r"skmnist 9\.1\.0.*reads format version 1"):
        load_model(write(tmp_path, pack(metadata, members)))


def test_checksum_mismatch(pipeline_bytes, tmp_path):
    metadata, members = unpack(pipeline_bytes)
    member = "steps/1/module/0.weight.npy"
    blob = bytearray(members[member])
    blob[-1] ^= 0x01  # a valid zip entry (its CRC is recomputed), wrong weights
    members[member] = bytes(blob)
    path = write(tmp_path, pack(metadata, members, fix_checksums=False))
    message = rf"is corrupted \(checksum mismatch in {member}\)"
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_flipped_bit_in_stored_data(pipeline_bytes, tmp_path):
    data = bytearray(pipeline_bytes)
    data[data.index(b"\x93NUMPY") + 200] ^= 0x10  # inside the first array
    with pytest.raises(ValueError, match=r"is corrupted \(checksum mismatch in "):
        load_model(write(tmp_path, bytes(data)))


def test_truncated_file(pipeline_bytes, tmp_path):
    for size in [10, len(pipeline_bytes) // 2, len(pipeline_bytes) - 1]:
        with pytest.raises(ValueError, match=r"bad.skmnist' is corrupted"):
            load_model(write(tmp_path, pipeline_bytes[:size]))


def test_missing_and_extra_members(pipeline_bytes, tmp_path):
    metadata, members = unpack(pipeline_bytes)
    del members["steps/1/classes_.npy"]
    with pytest.raises(ValueError, match=r"corrupted .missing member steps/1/classes_"):
        load_model(write(tmp_path, pack(metadata, members, fix_checksums=False)))
    metadata, members = unpack(pipeline_bytes)
    members["payload.py"] = b"import os"
    with pytest.raises(ValueError, match=r"corrupted .unexpected member payload.py"):
        load_model(write(tmp_path, pack(metadata, members, fix_checksums=False)))


@pytest.mark.parametrize("kind", ["os.system", "LogisticRegression", None, 3])
def test_unknown_estimator_type(pipeline_bytes, tmp_path, kind):
    metadata, members = unpack(pipeline_bytes)
    metadata["estimator"]["steps"][0]["estimator"]["type"] = kind
    with pytest.raises(ValueError, match="which this skmnist does not load"):
        load_model(write(tmp_path, pack(metadata, members)))


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["estimator"]["steps"][1]["estimator"]["params"].update(bad=1),
        lambda m: m["estimator"]["steps"][1]["estimator"]["params"].update(
            activation="__import__('os')"
        ),
        lambda m: m["estimator"]["steps"][1]["estimator"]["fitted"].update(n_iter_="2"),
        lambda m: m["estimator"]["steps"][1]["estimator"]["fitted"].update(
            n_features_in_=63
        ),
        lambda m: m["estimator"]["steps"][1]["estimator"]["network"][
            "architecture"
        ].update(hidden_layer_sizes=[9]),
        lambda m: m["estimator"]["steps"][1]["estimator"]["network"].update(
            dtype="float16"
        ),
        lambda m: m["estimator"]["steps"][0].update(name="a__b"),
        lambda m: m["estimator"]["steps"].reverse(),
        lambda m: m["estimator"]["steps"][0]["estimator"]["params"].update(
            max_value={"__class__": "os.system"}
        ),
    ],
    ids=[
        "unknown-param",
        "invalid-param",
        "attribute-type",
        "inconsistent-attribute",
        "architecture",
        "dtype",
        "step-name",
        "classifier-first",
        "tagged-object",
    ],
)
def test_invalid_metadata(pipeline_bytes, tmp_path, edit):
    metadata, members = unpack(pipeline_bytes)
    edit(metadata)
    with pytest.raises(ValueError, match=r"bad.skmnist' is not a valid skmnist model"):
        load_model(write(tmp_path, pack(metadata, members)))


def test_weights_of_the_wrong_shape(pipeline_bytes, tmp_path):
    metadata, members = unpack(pipeline_bytes)
    members["steps/1/module/0.bias.npy"] = npy(np.zeros(9, dtype=np.float32))
    with pytest.raises(ValueError, match=r"weight 0.bias .* expected float32"):
        load_model(write(tmp_path, pack(metadata, members)))
    members["steps/1/module/0.bias.npy"] = npy(np.zeros(8))[:-8]  # truncated
    with pytest.raises(ValueError, match=r"not a valid .npy array"):
        load_model(write(tmp_path, pack(metadata, members)))


def test_save_errors(digits, tmp_path):
    X, y = digits
    path = tmp_path / "m.skmnist"
    with pytest.raises(NotFittedError):
        save_model(tiny(), path)
    with pytest.raises(NotFittedError):
        save_model(make_pipeline(PixelScaler(), tiny()), path)
    with pytest.raises(TypeError, match="not a LogisticRegression"):
        save_model(LogisticRegression().fit(X, y), path)
    with pytest.raises(TypeError, match="step 'standardscaler'"):
        save_model(make_pipeline(StandardScaler(), tiny()).fit(X, y), path)
    clf = tiny().fit(X, y)
    clf.class_weight = {0: object()}  # not storable (and not validated after fit)
    with pytest.raises(TypeError, match="parameter class_weight="):
        save_model(clf, path)
    assert not path.exists()


def test_callbacks_and_random_state_objects_are_dropped(digits, tmp_path):
    X, y = digits
    clf = tiny(callbacks=[lambda info: None], random_state=np.random.RandomState(0))
    clf.fit(X, y)
    with pytest.warns(UserWarning) as record:
        loaded = round_trip(clf, tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "callbacks" in messages and "random_state" in messages
    assert loaded.callbacks is None and loaded.random_state is None
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))


# --------------------------------------------------------------------------
# Fuzzing: whatever the damage, a ValueError (or OSError) with a message
# --------------------------------------------------------------------------
json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.integers(-3, 1000), max_size=3),
    st.dictionaries(
        st.sampled_from(["__tuple__", "__dict__", "type", "x"]), st.integers()
    ),
)


def leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))
    yield path


def mutate(data, draw):
    kinds = ["flip", "truncate", "append"]
    with contextlib.suppress(Exception):
        unpack(data)
        kinds += ["member", "checked", "json"]
    kind = draw(st.sampled_from(kinds))
    if kind == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=64))
    metadata, members = unpack(data)
    if kind in ("member", "checked"):  # replace a member: bad, or checksummed
        name = draw(st.sampled_from(sorted(members)))
        blob = members[name]
        members[name] = draw(
            st.one_of(
                st.binary(max_size=200),
                st.builds(lambda n: blob[:n], st.integers(0, len(blob))),
                st.just(npy(np.zeros(3, dtype=np.float32))),
                st.just(npy(np.array(["a", "b"]))),
            )
        )
        return pack(metadata, members, fix_checksums=kind == "checked")
    path = draw(st.sampled_from(sorted(leaves(metadata), key=repr)))
    if not path:
        metadata = draw(json_values)
    else:
        parent = metadata
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(json_values)
    return pack(metadata, members, fix_checksums=False)


@settings(
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_damaged_files_raise_value_errors(pipeline_bytes, tmp_path_factory, data):
    damaged = pipeline_bytes
    for _ in range(data.draw(st.integers(1, 2))):
        if damaged:
            damaged = mutate(damaged, data.draw)
    path = tmp_path_factory.getbasetemp() / "fuzzed.skmnist"
    path.write_bytes(damaged)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = load_model(path, device="cpu")
        except (ValueError, OSError) as exc:
            assert str(exc)
        else:
            assert isinstance(model, (Pipeline, MLPDigitClassifier, PixelScaler))


# --------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------
def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in argv])
    return status, out.getvalue(), err.getvalue()


def test_cli_trains_evaluates_and_predicts_with_secure_files(tmp_path, monkeypatch):
    path = tmp_path / "model.skmnist"
    tiny_params = ["--param", "hidden_layer_sizes=8", "--param", "max_iter=1"]
    status, _, err = run(
        "train", "--source", "sample", "-q", *tiny_params, "--out", path
    )
    assert status == 0, err
    assert path.read_bytes().startswith(b"PK\x03\x04")  # a zip, not a pickle
    model = load_model(path)
    assert isinstance(model, Pipeline) and isinstance(model[-1], MLPDigitClassifier)

    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("joblib.load"))
    status, out, err = run("evaluate", path, "--source", "sample")
    assert status == 0, err
    assert "accuracy" in out
    np.save(tmp_path / "x.npy", np.zeros((3, 784), dtype=np.uint8))
    status, out, err = run("predict", path, tmp_path / "x.npy")
    assert status == 0, err
    assert len(out.strip().splitlines()) == 4  # a header and 3 predictions


def test_cli_rejects_bad_secure_files(tmp_path, digits):
    X, _ = digits
    save_model(PixelScaler().fit(X), tmp_path / "scaler.skmnist")
    status, _, err = run("predict", tmp_path / "scaler.skmnist", tmp_path / "x.npy")
    assert status == 1
    assert "holds a PixelScaler, not an MLPDigitClassifier" in err
    (tmp_path / "cut.skmnist").write_bytes(b"PK\x03\x04" + b"\0" * 20)
    status, _, err = run("evaluate", tmp_path / "cut.skmnist", "--source", "sample")
    assert status == 1
    assert "cut.skmnist' is corrupted" in err
