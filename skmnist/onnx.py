"""ONNX export: skl2onnx converters for MLPDigitClassifier and PixelScaler.

Once :func:`register_onnx_converters` has run, :func:`skl2onnx.to_onnx` and
:func:`skl2onnx.convert_sklearn` convert a fitted
:class:`~skmnist.MLPDigitClassifier`, a fitted :class:`~skmnist.PixelScaler`
and any scikit-learn pipeline holding them, e.g.
``Pipeline(PixelScaler, MLPDigitClassifier)``. :func:`to_onnx` does both in one
call. The exported classifier has the outputs of skl2onnx's own classifiers:
``label`` (int64 for integer labels, string for string labels) and
``probabilities`` (a list of ``{class: probability}`` dicts through ZipMap by
default, a float tensor with ``options={"zipmap": False}``).

This module needs the ``onnx`` extra (``pip install -e ".[onnx]"``:
skl2onnx, onnx and onnxruntime); it imports skl2onnx only when called.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .classifier import MLPDigitClassifier
from .preprocessing import PixelScaler

if TYPE_CHECKING:  # pragma: no cover
    import onnx as _onnx

__all__ = ["register_onnx_converters", "to_onnx"]

#: skl2onnx aliases of the two converters.
CLASSIFIER_ALIAS = "SkmnistMLPDigitClassifier"
SCALER_ALIAS = "SkmnistPixelScaler"

_INSTALL_HINT = (
    "ONNX export needs skl2onnx, onnx and onnxruntime; install them with "
    "`pip install -e '.[onnx]'`."
)

_registered = False


def _import_skl2onnx():
    try:
        import skl2onnx
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return skl2onnx


def register_onnx_converters() -> None:
    """Register the skl2onnx converters of MLPDigitClassifier and PixelScaler.

    After this call, :func:`skl2onnx.to_onnx` and
    :func:`skl2onnx.convert_sklearn` convert these estimators, alone or inside
    a pipeline. Calling it again does nothing.

    The classifier accepts skl2onnx's usual classifier options: ``zipmap``
    (True, False or ``"columns"``), ``nocl`` and ``output_class_labels``.

    Raises
    ------
    ImportError
        If skl2onnx is not installed (``pip install -e ".[onnx]"``).

    See Also
    --------
    to_onnx : Register and convert in one call.

    Examples
    --------
    With ``pipeline`` a fitted ``Pipeline(PixelScaler, MLPDigitClassifier)``
    and ``X`` float32 pixels (see :func:`to_onnx`):

    >>> import skl2onnx  # doctest: +SKIP
    >>> from skmnist.onnx import register_onnx_converters
    >>> register_onnx_converters()  # doctest: +SKIP
    >>> onx = skl2onnx.to_onnx(pipeline, X[:1])  # doctest: +SKIP
    >>> [output.name for output in onx.graph.output]  # doctest: +SKIP
    ['output_label', 'output_probability']
    """
    global _registered
    skl2onnx = _import_skl2onnx()
    if _registered:
        return
    skl2onnx.update_registered_converter(
        MLPDigitClassifier,
        CLASSIFIER_ALIAS,
        _classifier_shape_calculator,
        _convert_classifier,
        options={
            "zipmap": [True, False, "columns"],
            "nocl": [False, True],
            "output_class_labels": [False, True],
        },
    )
    skl2onnx.update_registered_converter(
        PixelScaler, SCALER_ALIAS, _scaler_shape_calculator, _convert_scaler
    )
    _registered = True


#: The dtypes of ``X_sample`` that skl2onnx turns into an ONNX input type.
_INPUT_DTYPES = tuple(
    np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64, np.bool_)
)


def to_onnx(model: Any, X_sample: Any, **kwargs: Any) -> _onnx.ModelProto:
    """Convert a fitted skmnist estimator or pipeline to ONNX.

    Registers the converters (:func:`register_onnx_converters`) and calls
    :func:`skl2onnx.to_onnx`.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~skmnist.MLPDigitClassifier`,
        :class:`~skmnist.PixelScaler` or scikit-learn pipeline of them (and of
        any estimator skl2onnx converts).
    X_sample : ndarray of shape (n_samples, n_features)
        Sample input; only its dtype and number of columns matter. Pass
        float32 (e.g. ``X[:1].astype(np.float32)``), or float64 to run the
        graph's input in double precision.
    **kwargs
        Passed to :func:`skl2onnx.to_onnx`, e.g. ``options={"zipmap": False}``
        to output the probabilities as a tensor, or ``target_opset``.

    Returns
    -------
    onnx.ModelProto
        The ONNX model, with outputs ``label`` and ``probabilities`` for a
        classifier, ``variable`` for a scaler.

    Raises
    ------
    ImportError
        If skl2onnx is not installed (``pip install -e ".[onnx]"``).
    ValueError
        If ``X_sample``'s dtype has no ONNX input type in skl2onnx (such as
        uint8 images).

    See Also
    --------
    register_onnx_converters : Make :func:`skl2onnx.to_onnx` aware of skmnist.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from skmnist import MLPDigitClassifier, PixelScaler
    >>> from skmnist.onnx import to_onnx
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> pipeline = make_pipeline(  # doctest: +SKIP
    ...     PixelScaler(max_value=16), MLPDigitClassifier((32,), max_iter=5)
    ... ).fit(X, y)
    >>> onx = to_onnx(pipeline, X[:1], options={"zipmap": False})  # doctest: +SKIP
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> session = ort.InferenceSession(onx.SerializeToString())  # doctest: +SKIP
    >>> labels, proba = session.run(None, {"X": X})  # doctest: +SKIP
    >>> bool((labels == pipeline.predict(X)).all())  # doctest: +SKIP
    True
    """
    skl2onnx = _import_skl2onnx()
    dtype = getattr(X_sample, "dtype", None)
    if dtype is not None and dtype not in _INPUT_DTYPES:
        raise ValueError(
            f"X_sample has dtype {dtype}, which has no ONNX input type in "
            "skl2onnx (float32, float64, int32, int64 or bool): pass "
            "X[:1].astype(np.float32), and give the ONNX runtime float32 images "
            "(with the raw pixel values, if the model starts with a PixelScaler)."
        )
    register_onnx_converters()
    return skl2onnx.to_onnx(model, X_sample, **kwargs)


# ---------------------------------------------------------------- helpers


def _new(scope, name: str) -> str:
    return scope.get_unique_variable_name(name)


def _node(scope, container, op_type: str, inputs, output: str, **attrs) -> str:
    container.add_node(
        op_type,
        inputs,
        output,
        name=scope.get_unique_operator_name(op_type),
        **attrs,
    )
    return output


def _constant(scope, container, name: str, proto_type: int, values) -> str:
    """Add an initializer holding ``values`` (a numpy array) and return its name."""
    values = np.asarray(values)
    init_name = _new(scope, name)
    content = values.ravel().tolist() if values.dtype.kind in "OSU" else values.ravel()
    container.add_initializer(init_name, proto_type, list(values.shape), content)
    return init_name


def _float_proto_types():
    from onnx import TensorProto

    return {
        np.dtype(np.float32): TensorProto.FLOAT,
        np.dtype(np.float64): TensorProto.DOUBLE,
    }


def _cast_to(scope, container, name: str, from_type, to_proto: int) -> str:
    """``name`` cast to ``to_proto`` unless its skl2onnx type already is that."""
    from skl2onnx.common.data_types import guess_proto_type

    try:
        if guess_proto_type(from_type) == to_proto:
            return name
    except NotImplementedError:
        pass
    return _node(scope, container, "Cast", [name], _new(scope, "cast"), to=to_proto)


# ------------------------------------------------------------- PixelScaler


def _scaler_shape_calculator(operator) -> None:
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int32TensorType,
        Int64TensorType,
    )
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(
        operator,
        good_input_types=[
            FloatTensorType,
            DoubleTensorType,
            Int64TensorType,
            Int32TensorType,
            BooleanTensorType,
        ],
    )
    shape = operator.inputs[0].type.shape
    n_rows = shape[0] if shape else None
    n_cols = shape[1] if len(shape) > 1 else None
    # PixelScaler.transform always returns float32.
    operator.outputs[0].type = FloatTensorType([n_rows, n_cols])


def _convert_scaler(scope, operator, container) -> None:
    """``clip(X / data_max_, 0, 1)``, then ``(out - mean_) * (1 / scale_)``.

    Every step is done in float32, with the constants rounded to float32 as
    :meth:`PixelScaler.transform` does, so the output matches it bit for bit;
    steps that cannot change the values are left out.
    """
    from onnx import TensorProto

    scaler = operator.raw_operator
    float_ = TensorProto.FLOAT
    x = _cast_to(
        scope, container, operator.inputs[0].full_name, operator.inputs[0].type, float_
    )
    data_max = np.float32(scaler.data_max_)
    if data_max != 1:
        divisor = _constant(scope, container, "data_max", float_, data_max)
        x = _node(scope, container, "Div", [x, divisor], _new(scope, "unit_range"))
    if scaler.clip:
        clipped = _new(scope, "clipped")
        if (container.target_opset or 11) < 11:  # bounds were attributes then
            x = _node(scope, container, "Clip", [x], clipped, min=0.0, max=1.0)
        else:
            low = _constant(scope, container, "clip_min", float_, np.float32(0))
            high = _constant(scope, container, "clip_max", float_, np.float32(1))
            x = _node(scope, container, "Clip", [x, low, high], clipped)
    mean = np.float32(scaler.mean_)
    if mean != 0:
        mean_name = _constant(scope, container, "mean", float_, mean)
        x = _node(scope, container, "Sub", [x, mean_name], _new(scope, "centred"))
    inv_scale = np.float32(1.0 / scaler.scale_)
    if inv_scale != 1:
        factor = _constant(scope, container, "inv_scale", float_, inv_scale)
        x = _node(scope, container, "Mul", [x, factor], _new(scope, "scaled"))
    _node(scope, container, "Identity", [x], operator.outputs[0].full_name)


# ------------------------------------------------------ MLPDigitClassifier


def _classifier_shape_calculator(operator) -> None:
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )

    calculate_linear_classifier_output_shapes(operator)


def _label_constant(scope, container, classes: np.ndarray) -> str:
    """Name of an initializer holding the class labels.

    Integer, boolean and (necessarily integral) float labels become int64, as
    skl2onnx declares them; anything else becomes UTF-8 strings.
    """
    from onnx import TensorProto

    classes = np.asarray(classes)
    if classes.dtype.kind in "UO":
        encoded = np.array([str(c).encode("utf-8") for c in classes], dtype=object)
        return _constant(scope, container, "classes", TensorProto.STRING, encoded)
    values = classes.astype(np.int64)
    return _constant(scope, container, "classes", TensorProto.INT64, values)


def _activation(scope, container, layer, x: str, dtype: np.dtype) -> str:
    """Add the ONNX nodes of one torch layer that is not Linear."""
    from torch import nn

    if isinstance(layer, (nn.Identity, nn.Dropout)):
        return x  # dropout is the identity at inference
    if isinstance(layer, nn.ReLU):
        return _node(scope, container, "Relu", [x], _new(scope, "relu"))
    if isinstance(layer, nn.Sigmoid):
        return _node(scope, container, "Sigmoid", [x], _new(scope, "sigmoid"))
    if isinstance(layer, nn.Tanh):
        return _node(scope, container, "Tanh", [x], _new(scope, "tanh"))
    if isinstance(layer, nn.SiLU):
        sigmoid = _node(scope, container, "Sigmoid", [x], _new(scope, "sigmoid"))
        return _node(scope, container, "Mul", [x, sigmoid], _new(scope, "silu"))
    if isinstance(layer, nn.GELU):
        return _gelu(scope, container, layer.approximate, x, dtype)
    raise NotImplementedError(
        f"No ONNX conversion for the layer {layer!r} of MLPDigitClassifier."
    )


def _gelu(scope, container, approximate: str, x: str, dtype: np.dtype) -> str:
    opset = container.target_opset
    if opset is None or opset >= 20:  # Gelu joined the default domain in opset 20
        return _node(
            scope, container, "Gelu", [x], _new(scope, "gelu"), approximate=approximate
        )
    if approximate != "none":
        raise NotImplementedError(
            f"GELU with approximate={approximate!r} needs target_opset >= 20."
        )
    # 0.5 * x * (1 + erf(x / sqrt(2))), in the dtype of x
    proto = _float_proto_types()[dtype]

    def const(name, value):
        return _constant(scope, container, name, proto, np.asarray(value, dtype=dtype))

    scaled = _node(
        scope,
        container,
        "Mul",
        [x, const("inv_sqrt2", 1 / math.sqrt(2))],
        _new(scope, "gelu_scaled"),
    )
    erf = _node(scope, container, "Erf", [scaled], _new(scope, "gelu_erf"))
    one_plus = _node(
        scope, container, "Add", [erf, const("one", 1.0)], _new(scope, "gelu_1p")
    )
    half_x = _node(
        scope, container, "Mul", [x, const("half", 0.5)], _new(scope, "gelu_half")
    )
    return _node(scope, container, "Mul", [half_x, one_plus], _new(scope, "gelu"))


def _convert_classifier(scope, operator, container) -> None:
    """Forward pass, Softmax, then ArgMax and ArrayFeatureExtractor for the labels.

    The network runs in its own dtype (float32, or float64 for a model fitted
    on float64), as :meth:`MLPDigitClassifier.predict_proba` does; the
    probabilities are then cast to the output type skl2onnx declared (double
    for double input, float otherwise).
    """
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.common.utils_classifier import get_label_classes
    from torch import nn

    model = operator.raw_operator
    module = model.module_
    parameter = next(module.parameters())
    np_dtype = np.dtype(np.float64 if str(parameter.dtype) == "torch.float64" else "f4")
    proto = _float_proto_types()[np_dtype]

    x = _cast_to(
        scope, container, operator.inputs[0].full_name, operator.inputs[0].type, proto
    )
    for layer in module:
        if isinstance(layer, nn.Linear):
            weight = layer.weight.detach().cpu().numpy().astype(np_dtype)
            bias = layer.bias.detach().cpu().numpy().astype(np_dtype)
            x = _node(
                scope,
                container,
                "Gemm",
                [
                    x,
                    _constant(scope, container, "coefficient", proto, weight),
                    _constant(scope, container, "intercepts", proto, bias),
                ],
                _new(scope, "linear"),
                transB=1,
            )
        else:
            x = _activation(scope, container, layer, x, np_dtype)
    logits = x
    proba = _node(
        scope, container, "Softmax", [logits], _new(scope, "softmax"), axis=-1
    )

    proba_output = operator.outputs[1]
    out_proto = guess_proto_type(proba_output.type)
    if out_proto != proto:
        proba = _node(
            scope, container, "Cast", [proba], _new(scope, "cast"), to=out_proto
        )
    _node(scope, container, "Identity", [proba], proba_output.full_name)

    classes_name = _label_constant(scope, container, get_label_classes(scope, model))
    # predict takes the argmax of the logits: ties of rounded probabilities
    # must not change the label.
    argmax = _node(
        scope, container, "ArgMax", [logits], _new(scope, "argmax"), axis=1, keepdims=1
    )
    extracted = _node(
        scope,
        container,
        "ArrayFeatureExtractor",
        [classes_name, argmax],
        _new(scope, "label_2d"),
        op_domain="ai.onnx.ml",
        op_version=1,
    )
    shape = _constant(
        scope, container, "label_shape", _int64_proto(), np.array([-1], np.int64)
    )
    _node(
        scope, container, "Reshape", [extracted, shape], operator.outputs[0].full_name
    )


def _int64_proto() -> int:
    from onnx import TensorProto

    return TensorProto.INT64
