"""Secure model files (skmnist.persistence, over skops): round trips, no pickle,
hostile files, fuzzing."""

import contextlib
import io
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.cli import main
from skmnist.persistence import (
    TRUSTED_TYPES,
    PickleNotAllowedError,
    load_model,
    load_model_file,
    save_model,
    save_model_file,
)
from skmnist.preprocessing import PixelRangeWarning

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

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
    # load_digits' 0..16 against the default max_value=255 is warned about.
    warns = pytest.warns(PixelRangeWarning) if not params else contextlib.nullcontext()
    with warns:
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


def test_plain_skops_round_trip(digits, pipeline, tmp_path):
    """skops.io.dump and skops.io.load(trusted=TRUSTED_TYPES) round-trip a model,
    and load_model and skops.io.load read each other's files."""
    X, _ = digits
    assert skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)) == sorted(
        name for name in TRUSTED_TYPES if name.startswith("skmnist.")
    )  # Pipeline is trusted by skops already; TRUSTED_TYPES names it anyway
    skops.io.dump(pipeline, tmp_path / "plain.skops")
    save_model(pipeline, tmp_path / "ours.skmnist")
    for loaded in [
        skops.io.load(tmp_path / "plain.skops", trusted=TRUSTED_TYPES),
        skops.io.load(tmp_path / "ours.skmnist", trusted=TRUSTED_TYPES),
        load_model(tmp_path / "plain.skops"),
    ]:
        assert type(loaded) is Pipeline
        assert loaded[0].get_params() == pipeline[0].get_params()
        assert_same_classifier(
            loaded[-1], pipeline[-1], PixelScaler(16).fit_transform(X)
        )
    with pytest.raises(skops.io.exceptions.UntrustedTypesFoundException):
        skops.io.load(tmp_path / "ours.skmnist")  # skops trusts nothing of skmnist


def test_optimizer_and_random_state_are_kept(digits, tmp_path):
    """A loaded model trains on exactly as the saved one: same optimizer state
    (keep_optimizer_state=True) and the same state of its random generator."""
    X, y = digits
    clf = tiny(keep_optimizer_state=True, random_state=np.random.RandomState(0))
    clf.fit(X, y)
    loaded = round_trip(clf, tmp_path)
    assert isinstance(loaded.random_state, np.random.RandomState)
    clf.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.loss_curve_ == clf.loss_curve_


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
# Helpers that take a skops file apart and put it back together
# --------------------------------------------------------------------------
def unpack(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(members.pop("schema.json")), members


def pack(schema, members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, blob in members.items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def classifier_state(schema):
    """The attributes (name -> node) of the pipeline's classifier, to edit."""
    steps = schema["content"]["content"]["steps"]["content"]
    return steps[1]["content"][1]["content"]["content"]


def json_node(value):
    return {
        "__class__": "str",  # as skops writes it, whatever the value
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def write(tmp_path, data, name="bad.skmnist"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def edited(pipeline_bytes, edit):
    schema, members = unpack(pipeline_bytes)
    edit(schema, members)
    return pack(schema, members)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_model_loads_on_cpu(digits, tmp_path):
    X, y = digits
    clf = tiny().fit(X, y)
    clf.device_ = "cuda:0"  # as if fitted on a GPU this machine lacks
    save_model(clf, tmp_path / "gpu.skmnist")
    with pytest.warns(UserWarning, match="'cuda:0', which is not available") as info:
        loaded = load_model(tmp_path / "gpu.skmnist")
    assert {w.filename for w in info} == {__file__}  # shown at the caller's line
    assert loaded.device_ == "cpu"
    assert next(loaded.module_.parameters()).device.type == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit device: no warning
        assert load_model(tmp_path / "gpu.skmnist", device="cpu").device_ == "cpu"


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
    def edit(schema, members):
        member = classifier_state(schema)["classes_"]["file"]
        members[member] = npy(np.array([0, "x", None], dtype=object), True)

    with pytest.raises(ValueError, match="allow_pickle=False"):
        load_model(write(tmp_path, edited(pipeline_bytes, edit)))
    assert pickle_calls == []


def os_system(command):
    """skops's node for a call of os.system(command), as a hostile file has it."""
    return {
        "__class__": "system",
        "__module__": "os",
        "__loader__": "TreeNode",  # a ReduceNode: calls its type with args
        "__reduce__": {"args": {**json_node(command), "__class__": "tuple"}},
        "content": json_node({}),
    }


HOSTILE = {
    "os.system": lambda marker: os_system(f"touch {marker}"),
    "builtins.eval": lambda marker: {
        "__class__": "eval",
        "__module__": "builtins",
        "__loader__": "FunctionNode",
    },
    "sklearn.linear_model._logistic.LogisticRegression": lambda marker: {
        "__class__": "LogisticRegression",
        "__module__": "sklearn.linear_model._logistic",
        "__loader__": "ObjectNode",  # trusted by skops' defaults, not by skmnist
    },
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_untrusted_types_are_refused_unread(pipeline_bytes, tmp_path, kind):
    marker = tmp_path / "pwned.txt"

    def edit(schema, members):
        classifier_state(schema)["callbacks"] = HOSTILE[kind](marker)

    path = write(tmp_path, edited(pipeline_bytes, edit))
    message = rf"holds objects of types \['{kind}'\], which a skmnist model"
    with pytest.raises(ValueError, match=message):
        load_model(path)
    with pytest.raises(ValueError, match=message):
        load_model_file(path, allow_pickle=True)
    assert not marker.exists()


def test_untrusted_method_and_loader_are_refused(pipeline_bytes, tmp_path):
    def method(schema, members):  # a bound method of an allowed type
        state = classifier_state(schema)
        state["callbacks"] = {
            "__class__": "MLPDigitClassifier",
            "__module__": "skmnist.classifier",
            "__loader__": "MethodNode",
            "content": {"func": "fit", "obj": json_node(None)},
        }

    with pytest.raises(ValueError, match=r"skops would build with \['MethodNode'\]"):
        load_model(write(tmp_path, edited(pipeline_bytes, method)))


def test_old_format_is_refused_with_a_message(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"format": "skmnist-model"}))
        archive.writestr("steps/1/classes_.npy", npy(np.arange(10)))
    path = write(tmp_path, buffer.getvalue(), "old.skmnist")
    with pytest.raises(ValueError, match=r"old.skmnist' is in the model format of "):
        load_model(path)
    with pytest.raises(ValueError, match="no longer reads: retrain"):
        load_model_file(path)


# --------------------------------------------------------------------------
# load_model_file / save_model_file: secure by default, pickles on request
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["m.skmnist", "M.SKMNIST", "model", "m.bin"])
def test_save_model_file_writes_the_secure_format_by_default(
    pipeline, tmp_path, name, pickle_calls
):
    path = tmp_path / name
    assert save_model_file(pipeline, path) == "skmnist"
    assert path.read_bytes().startswith(b"PK\x03\x04")  # a zip, not a pickle
    X = np.zeros((2, 64), dtype=np.float32)
    loaded = load_model_file(path)
    assert np.array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    assert pickle_calls == []


@pytest.mark.parametrize(
    "name", ["m.joblib", "m.pkl", "m.pickle", "m.joblib.gz", "v1.2.pkl.xz"]
)
def test_save_model_file_pickles_by_name_and_loads_only_when_allowed(
    pipeline, tmp_path, name
):
    path = tmp_path / name
    assert save_model_file(pipeline, path) == "pickle"
    X = np.zeros((2, 64), dtype=np.float32)
    assert np.array_equal(joblib.load(path).predict(X), pipeline.predict(X))
    with pytest.raises(PickleNotAllowedError, match=f"{name}' is a pickle") as info:
        load_model_file(path)
    assert info.value.filename == str(path)
    assert "arbitrary code" in str(info.value) and "allow_pickle=True" in str(
        info.value
    )
    loaded = load_model_file(path, allow_pickle=True)
    assert np.array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))


@pytest.mark.parametrize("name", ["evil.joblib", "evil.joblib.gz", "evil.pkl", "evil"])
def test_load_model_file_runs_no_pickle_unless_allowed(
    tmp_path, name, write_malicious_pickle
):
    marker = tmp_path / "pwned.txt"
    path = write_malicious_pickle(tmp_path / name, marker)
    with pytest.raises(PickleNotAllowedError, match="is a pickle"):
        load_model_file(path)
    assert not marker.exists()
    assert load_model_file(path, allow_pickle=True) is None  # exec's result
    assert marker.read_text() == "PWNED"


@pytest.mark.parametrize("allow_pickle", [False, True])
def test_skmnist_name_never_reaches_an_unpickler(
    tmp_path, allow_pickle, write_malicious_pickle, pickle_calls
):
    marker = tmp_path / "pwned.txt"
    path = write_malicious_pickle(tmp_path / "evil.skmnist", marker)
    with pytest.raises(ValueError, match=r"holds a pickle.*never unpickled") as info:
        load_model_file(path, allow_pickle=allow_pickle)
    assert type(info.value) is ValueError  # not a PickleNotAllowedError
    assert not marker.exists() and pickle_calls == []


def test_load_model_file_of_something_else(tmp_path):
    path = write(tmp_path, b"just some notes\n", "notes.txt")
    with pytest.raises(ValueError, match=r"notes\.txt' is not a skmnist model file"):
        load_model_file(path)
    with pytest.raises(ValueError, match=r"notes\.txt' is not a skmnist model file"):
        load_model_file(path, allow_pickle=True)
    with pytest.raises(FileNotFoundError):
        load_model_file(tmp_path / "absent.skmnist")


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
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
    with pytest.raises(ValueError, match=r"not a skmnist model file.*no schema\.json"):
        load_model(write(tmp_path, buffer.getvalue()))
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.skmnist")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", r"its schema\.json is not JSON"),
        (b"[1, 2]", r"no skops schema\.json"),
        (b'{"__loader__": "DictNode"}', r"a node of its schema\.json has no type"),
        (
            json.dumps(
                {**json_node({}), "__class__": "dict", "__loader__": "DictNode"}
            ),
            "holds a builtins.dict, not an MLPDigitClassifier",
        ),
    ],
    ids=["not-json", "not-a-node", "no-type", "not-an-estimator"],
)
def test_wrong_schema(tmp_path, raw, message):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", raw)
    with pytest.raises(ValueError, match=message):
        load_model(write(tmp_path, buffer.getvalue()))


def test_newer_skops_protocol(pipeline_bytes, tmp_path):
    def edit(schema, members):
        schema["protocol"] += 1

    with pytest.raises(ValueError, match=r"bad.skmnist' is not a valid .*protocol"):
        load_model(write(tmp_path, edited(pipeline_bytes, edit)))


def test_flipped_bit_in_stored_data(pipeline_bytes, tmp_path):
    data = bytearray(pipeline_bytes)
    data[data.index(b"\x93NUMPY") + 100] ^= 0x10  # inside the first array
    with pytest.raises(ValueError, match=r"is corrupted \(CRC-32 mismatch in "):
        load_model(write(tmp_path, bytes(data)))


def test_truncated_file(pipeline_bytes, tmp_path):
    for size in [10, len(pipeline_bytes) // 2, len(pipeline_bytes) - 1]:
        with pytest.raises(ValueError, match=r"bad.skmnist' is corrupted"):
            load_model(write(tmp_path, pipeline_bytes[:size]))


def test_missing_and_extra_members(pipeline_bytes, tmp_path):
    schema, members = unpack(pipeline_bytes)
    missing = classifier_state(schema)["classes_"]["file"]
    del members[missing]
    with pytest.raises(ValueError, match=rf"corrupted .missing member {missing}"):
        load_model(write(tmp_path, pack(schema, members)))
    schema, members = unpack(pipeline_bytes)
    members["payload.py"] = b"import os"
    with pytest.raises(ValueError, match=r"corrupted .unexpected member payload.py"):
        load_model(write(tmp_path, pack(schema, members)))


def test_compressed_file_is_refused(pipeline, tmp_path):
    path = tmp_path / "deflated.skops"
    skops.io.dump(pipeline, path, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match=r"holds a compressed or encrypted member"):
        load_model(path)


def test_huge_sizes(pipeline_bytes, tmp_path):
    # A member that claims more bytes than the whole file (a zip bomb would).
    data = bytearray(pipeline_bytes)
    directory = data.rindex(b"PK\x01\x02")  # the last central directory entry
    data[directory + 24 : directory + 28] = (2**31).to_bytes(4, "little")
    with pytest.raises(ValueError, match=r"corrupted \(member .* claims 2147483648"):
        load_model(write(tmp_path, bytes(data)))

    def array_header(schema, members):  # an array header promising 2**60 floats
        member = classifier_state(schema)["classes_"]["file"]
        members[member] = members[member].replace(b"(10,)", b"(1152921504606846976,)")

    with pytest.raises(ValueError, match=r"bad.skmnist' (could not|is not a valid)"):
        load_model(write(tmp_path, edited(pipeline_bytes, array_header)))

    def architecture(schema, members):  # a hidden layer of 10**12 units
        stack = [schema]  # the sizes are stored once, then referred to
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                sizes = node.get("hidden_layer_sizes", {})
                if isinstance(sizes.get("content"), list):
                    sizes["content"] = [json_node(10**12)]
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)

    with pytest.raises(ValueError, match=r"bad.skmnist' (could not|is not a valid)"):
        load_model(write(tmp_path, edited(pipeline_bytes, architecture)))


def test_a_stored_architecture_is_checked_before_anything_is_allocated():
    from skmnist._training.network import build_mlp, from_portable, to_portable

    arch = {"n_features": 4, "hidden_layer_sizes": [3], "n_outputs": 2}
    portable = to_portable(build_mlp(**arch), arch)
    portable["architecture"] = {**arch, "hidden_layer_sizes": [10**12]}
    # 10**12 units would be terabytes: the mismatch must be found first.
    with pytest.raises(
        ValueError, match=r"0\.weight \(3, 4\) \(the architecture needs"
    ):
        from_portable(portable, "cpu")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_features": "16"}, r"n_features is '16'"),
        ({"n_outputs": True}, r"n_outputs is True"),
        ({"hidden_layer_sizes": [3, 0]}, r"hidden_layer_sizes is \[3, 0\]"),
        ({"hidden_layer_sizes": "3"}, r"hidden_layer_sizes is '3'"),
        ({"activation": "os.system"}, r"activation is 'os.system'"),
        ({"dropout": 1.5}, r"dropout is 1.5"),
        ({"extra": 1}, r"its keys are \['extra', 'hidden_layer_sizes'"),
        ({"dtype": "load"}, r"the dtype is 'load'"),
    ],
)
def test_a_stored_architecture_of_the_wrong_kind_is_named(change, message):
    """A file's network description of wrong types: a clear error, not torch's."""
    from skmnist._training.network import build_mlp, from_portable, to_portable

    arch = {"n_features": 4, "hidden_layer_sizes": [3], "n_outputs": 2}
    portable = to_portable(build_mlp(**arch), arch)
    if "dtype" in change:
        portable["dtype"] = change["dtype"]
    else:
        portable["architecture"] = {**arch, **change}
    with pytest.raises(ValueError, match="description is not one skmnist writes: "):
        from_portable(portable, "cpu")
    with pytest.raises(ValueError, match=message):
        from_portable(portable, "cpu")


@pytest.mark.parametrize(
    "edit",
    [
        lambda state: state.update(activation=json_node("__import__('os')")),
        lambda state: state.update(n_features_in_=json_node(63)),
        lambda state: state.update(classes_=json_node(None)),
        lambda state: state.pop("module_"),
        lambda state: state["module_"]["content"].update(format=json_node(99)),
    ],
    ids=["invalid-param", "inconsistent-attribute", "classes", "unfitted", "format"],
)
def test_invalid_content(pipeline_bytes, tmp_path, edit):
    def edit_schema(schema, members):
        state = classifier_state(schema)
        edit(state)
        used = {n["file"] for n in state.values() if isinstance(n.get("file"), str)}
        for name in [m for m in members if m.endswith(".npy")]:
            if name not in used and name not in json.dumps(schema):
                del members[name]  # no longer referenced: not "unexpected"

    with pytest.raises(ValueError, match=r"bad.skmnist' is not a valid skmnist model"):
        load_model(write(tmp_path, edited(pipeline_bytes, edit_schema)))


def add_evil_attribute(node):
    """A (skops dict) node with one more str key: an attribute ``evil_`` = 1."""
    node["content"]["evil_"] = json_node(1)
    key_types = node["key_types"]["content"]
    key_types.append(dict(key_types[0]))  # skops zips the keys with their types


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            add_evil_attribute,
            r"holds the attributes \['evil_'\], which are neither parameters nor",
        ),
        (
            lambda node: node["content"].pop("t_"),
            r"lacks the fitted attributes \['t_'\]",
        ),
        (
            lambda node: node["content"].pop("max_iter"),
            r"lacks the parameters \['max_iter'\]",
        ),
    ],
    ids=["unknown", "missing-attribute", "missing-parameter"],
)
def test_attributes_are_checked_against_the_description(
    pipeline_bytes, tmp_path, edit, message
):
    def edit_schema(schema, members):
        steps = schema["content"]["content"]["steps"]["content"]
        edit(steps[1]["content"][1]["content"])  # the classifier's attributes

    with pytest.raises(ValueError, match=r"bad.skmnist' is not a valid") as info:
        load_model(write(tmp_path, edited(pipeline_bytes, edit_schema)))
    assert info.match(message)


def test_a_file_without_the_device_parameter_of_the_fit_gets_the_default(
    digits, tmp_path
):
    X, y = digits
    clf = tiny(device="cpu").fit(X, y)
    save_model(clf, tmp_path / "model.skmnist")

    def edit_schema(schema, members):  # as from before _device_param was kept
        del schema["content"]["content"]["_device_param"]

    path = write(
        tmp_path, edited((tmp_path / "model.skmnist").read_bytes(), edit_schema)
    )
    loaded = load_model(path)
    assert loaded._device_param == "cpu"
    loaded.partial_fit(X, y)
    assert loaded.device_ == "cpu"


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


def test_callbacks_and_memory_objects_are_dropped(digits, tmp_path):
    X, y = digits
    clf = tiny(callbacks=[lambda info: None])
    model = Pipeline([("mlp", clf)], memory=joblib.Memory(None)).fit(X, y)
    with pytest.warns(UserWarning) as record:
        loaded = round_trip(model, tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "callbacks" in messages and "memory" in messages
    assert loaded[-1].callbacks is None and loaded.memory is None
    assert clf.callbacks is not None and model.memory is not None  # unchanged
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


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
        st.sampled_from(["__class__", "__loader__", "content", "x"]), st.integers()
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
        kinds += ["member", "json"]
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
    schema, members = unpack(data)
    if kind == "member":  # replace a member, with a valid CRC-32
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
        return pack(schema, members)
    path = draw(st.sampled_from(sorted(leaves(schema), key=repr)))
    if not path:
        schema = draw(json_values)
    else:
        parent = schema
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(json_values)
    return pack(schema, members)


@pytest.mark.slow
@settings(
    max_examples=1_000,
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
    save_model(PixelScaler(max_value=16).fit(X), tmp_path / "scaler.skmnist")
    status, _, err = run("predict", tmp_path / "scaler.skmnist", tmp_path / "x.npy")
    assert status == 1
    assert "holds a PixelScaler, not an MLPDigitClassifier" in err
    (tmp_path / "cut.skmnist").write_bytes(b"PK\x03\x04" + b"\0" * 20)
    status, _, err = run("evaluate", tmp_path / "cut.skmnist", "--source", "sample")
    assert status == 1
    assert "cut.skmnist' is corrupted" in err


@pytest.mark.parametrize("name", ["model.joblib", "model.pkl", "model.joblib.gz"])
def test_save_model_refuses_a_pickle_name(pipeline, tmp_path, name):
    """joblib.load could not read the secure file such a name promises."""
    with pytest.raises(ValueError, match=r"names a pickle file.*joblib\.dump"):
        save_model(pipeline, tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_loading_a_pickle_says_it_is_one(pipeline, tmp_path, compress):
    path = tmp_path / "model.skmnist"
    joblib.dump(pipeline, path, compress=compress)
    with pytest.raises(ValueError, match=r"not a zip archive\. It looks like a pickle"):
        load_model(path)
    (tmp_path / "text.skmnist").write_text("hello")
    with pytest.raises(ValueError, match=r"not a zip archive\.$"):
        load_model(tmp_path / "text.skmnist")


def test_a_file_saved_under_another_scikit_learn_loads_with_its_warning(tmp_path):
    """scikit-learn's InconsistentVersionWarning is shown, not a TypeError."""
    from sklearn.exceptions import InconsistentVersionWarning

    X, y = load_digits(return_X_y=True)
    path = tmp_path / "old.skmnist"
    save_model(make_pipeline(PixelScaler(max_value=16), tiny()).fit(X, y), path)
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    schema = json.loads(members["schema.json"])
    schema["content"]["content"]["_sklearn_version"]["content"] = '"1.0"'
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.warns(InconsistentVersionWarning, match="1.0"):
        loaded = load_model(path, device="cpu")
    assert loaded.predict(X[:5]).shape == (5,)
