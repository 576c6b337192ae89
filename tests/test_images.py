"""skmnist.images: users' images of digits normalised the way MNIST's were."""

import contextlib
import csv
import io
import warnings

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.cli import main
from skmnist.datasets import load_mnist

Image = pytest.importorskip("PIL.Image")

from digit_renders import render_files  # noqa: E402  (needs PIL)

from skmnist.images import (  # noqa: E402
    DigitNormalizer,
    normalize_digit,
    read_digit_image,
)

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_RENDERED = 200


@pytest.fixture(scope="module")
def sample():
    X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
    X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)
    return X_train, y_train, X_test, y_test


@pytest.fixture(scope="module")
def model_file(sample, tmp_path_factory):
    """A small model trained on the embedded sample, saved as `skmnist train` does."""
    from skmnist.persistence import save_model

    X_train, y_train, _, _ = sample
    model = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(
            hidden_layer_sizes=(64,), max_iter=10, random_state=0, device="cpu"
        ),
    ).fit(X_train, y_train)
    path = tmp_path_factory.mktemp("model") / "model.skmnist"
    save_model(model, path)
    return path, model


def cli_predictions(model_path, paths):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["predict", str(model_path), *map(str, paths)])
    assert status == 0, err.getvalue()
    return np.array(
        [int(row["prediction"]) for row in csv.DictReader(io.StringIO(out.getvalue()))]
    )


def com(digit):
    digit = np.asarray(digit, dtype=float).reshape(28, 28)
    mass = digit / digit.sum()
    return mass.sum(axis=1) @ np.arange(28), mass.sum(axis=0) @ np.arange(28)


# ---------------------------------------------------------------------------
# The users' files: MNIST test digits rendered as PNG / JPEG, through the CLI.
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_reads_users_files_nearly_as_well_as_the_original_digits(
    sample, model_file, tmp_path
):
    _, _, X_test, y_test = sample
    path, model = model_file
    X, y = X_test[:N_RENDERED], y_test[:N_RENDERED]
    files = render_files(X, tmp_path, seed=0)
    settings = [s for _, s in files]
    # The renders vary what users' files vary.
    assert {s["format"] for s in settings} == {"PNG", "JPEG"}
    assert {s["mode"] for s in settings} == {"L", "RGB", "RGBA"}
    assert len({s["canvas"] for s in settings}) > N_RENDERED // 2
    assert (
        min(s["paper"] for s in settings) < 90 < 140 < max(s["paper"] for s in settings)
    )
    original = model.score(X, y)
    rendered = (cli_predictions(path, [p for p, _ in files]) == y).mean()
    assert rendered >= 0.95 * original, (rendered, original)


# ---------------------------------------------------------------------------
# The steps of the normalisation.
# ---------------------------------------------------------------------------
def test_mnist_digits_are_left_nearly_as_they_are(sample):
    _, _, X_test, _ = sample
    correlations = []
    for x in X_test[:50]:
        digit = normalize_digit(x.reshape(28, 28))
        # Resampled at most: the box, the centre of mass and the strokes stay.
        rows, columns = np.nonzero(digit)
        assert max(np.ptp(rows), np.ptp(columns)) + 1 == 20
        assert np.allclose(com(digit), (14, 14), atol=0.5)
        correlations.append(np.corrcoef(digit.ravel(), x)[0, 1])
    assert np.median(correlations) > 0.95


def on_paper(digit, canvas=(300, 200), at=(150, 20), height=90, paper=180, ink=30):
    """An MNIST digit as dark ink on a sheet of paper of another size."""
    crop = digit[np.ix_(digit.any(axis=1), digit.any(axis=0))]
    width = round(crop.shape[1] * height / crop.shape[0])
    big = np.asarray(
        Image.fromarray(crop).resize((width, height), Image.Resampling.BICUBIC), float
    )
    sheet = np.full(canvas[::-1], float(paper))
    coverage = big / 255
    region = sheet[at[1] : at[1] + height, at[0] : at[0] + width]
    region[...] = paper + (ink - paper) * coverage
    return sheet.round().astype(np.uint8)


@pytest.mark.parametrize(
    ("paper", "ink"), [(255, 0), (180, 30), (120, 10), (20, 230), (60, 150)]
)
def test_paper_becomes_zero_and_the_digit_mnist_sized_whatever_the_shades(
    sample, paper, ink
):
    digit = sample[2][3].reshape(28, 28)
    sheet = on_paper(digit, paper=paper, ink=ink)
    reference = normalize_digit(on_paper(digit, paper=255, ink=0)).astype(int)
    normalized = normalize_digit(sheet)
    assert normalized[:2].max() == normalized[-2:].max() == 0  # the margin is paper
    assert normalized.max() == 255
    np.testing.assert_allclose(com(normalized), (14, 14), atol=0.5)
    rows, columns = np.nonzero(normalized)
    assert max(np.ptp(rows), np.ptp(columns)) + 1 == 20
    # Inversion alone leaves grey paper grey: the shades do not matter here.
    assert np.abs(normalized.astype(int) - reference).max() <= 8


def test_the_aspect_ratio_is_kept_and_the_centre_of_mass_centred():
    sheet = np.zeros((400, 300), dtype=np.uint8)
    sheet[250:370, 30:90] = 255  # a block twice as tall as wide, low left
    digit = normalize_digit(sheet)
    rows, columns = np.nonzero(digit > 127)
    assert np.ptp(rows) + 1 == 20 and np.ptp(columns) + 1 == 10
    np.testing.assert_allclose(com(digit), (14, 14), atol=0.5)
    wide = normalize_digit(sheet.T)
    rows, columns = np.nonzero(wide > 127)
    assert np.ptp(rows) + 1 == 10 and np.ptp(columns) + 1 == 20


def test_other_sides_scale_the_box_alike():
    sheet = np.zeros((100, 100), dtype=np.uint8)
    sheet[10:90, 40:60] = 255
    digit = normalize_digit(sheet, side=56)
    rows, _ = np.nonzero(digit > 127)
    assert digit.shape == (56, 56) and np.ptp(rows) + 1 == 40


def test_noise_and_specks_stay_paper(sample):
    digit = sample[2][5].reshape(28, 28)
    clean = on_paper(digit, paper=200, ink=40)
    rng = np.random.default_rng(0)
    noisy = clean + rng.normal(0, 8, clean.shape)
    noisy[5, 5] = noisy[190, 290] = noisy[100, 40] = 0  # specks of dust
    reference = normalize_digit(clean).astype(int)
    result = normalize_digit(np.clip(noisy, 0, 255))
    assert np.abs(result - reference).mean() < 6
    assert np.allclose(com(result), com(reference), atol=0.5)


def test_a_few_specks_of_the_other_polarity_do_not_flip_it(sample):
    digit = sample[2][5].reshape(28, 28)
    pencil = on_paper(digit, paper=170, ink=110)  # faint ink on grey paper
    specks = pencil.copy()
    specks[[3, 150, 190], [250, 5, 100]] = 255  # bright dust, brighter than the ink
    reference = normalize_digit(pencil)
    assert np.abs(normalize_digit(specks).astype(int) - reference).max() <= 1


def test_transparent_and_colour_images_read_like_grayscale(sample, tmp_path):
    digit = sample[2][7].reshape(28, 28)
    sheet = on_paper(digit, paper=255, ink=0)
    Image.fromarray(sheet).save(tmp_path / "gray.png")
    coverage = 255 - sheet
    rgba = np.dstack([np.zeros((*sheet.shape, 3), np.uint8), coverage])
    Image.fromarray(rgba).save(tmp_path / "transparent.png")  # drawing-app export
    rgb = np.dstack([sheet, sheet, sheet])
    Image.fromarray(rgb).save(tmp_path / "rgb.jpg", quality=90)
    reference = read_digit_image(tmp_path / "gray.png").reshape(28, 28).astype(int)
    transparent = read_digit_image(tmp_path / "transparent.png").reshape(28, 28)
    np.testing.assert_array_equal(transparent, reference)
    jpeg = read_digit_image(tmp_path / "rgb.jpg").reshape(28, 28)
    assert np.abs(jpeg - reference).mean() < 6
    np.testing.assert_array_equal(normalize_digit(rgba), reference)
    np.testing.assert_array_equal(normalize_digit(rgb), reference)
    np.testing.assert_array_equal(normalize_digit(Image.fromarray(rgba)), reference)


def test_invert_forces_the_polarity(sample):
    digit = sample[2][0].reshape(28, 28)
    light = normalize_digit(digit, invert="never")
    assert np.array_equal(normalize_digit(digit), light)
    assert np.array_equal(normalize_digit(255 - digit, invert="always"), light)
    # The wrong polarity finds no ink: the "ink" would be darker than black paper.
    with pytest.warns(UserWarning, match="holds no ink"):
        assert not normalize_digit(digit, invert="always").any()


def test_an_image_without_ink_is_blank_with_a_warning(tmp_path):
    Image.fromarray(np.full((40, 30), 200, np.uint8)).save(tmp_path / "empty.png")
    with pytest.warns(UserWarning, match="empty.png' holds no ink"):
        assert not read_digit_image(tmp_path / "empty.png").any()


def test_large_photos_are_reduced_first(tmp_path):
    photo = np.full((3000, 4000), 230, np.uint8)
    photo[1000:1800, 2000:2100] = 20
    Image.fromarray(photo).save(tmp_path / "photo.png")
    digit = read_digit_image(tmp_path / "photo.png").reshape(28, 28)
    rows, _ = np.nonzero(digit > 127)
    assert np.ptp(rows) + 1 == 20


# ---------------------------------------------------------------------------
# Bad input: clear errors.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros(10), ValueError, "shape"),
        (np.zeros((0, 5)), ValueError, "non-empty"),
        (np.zeros((4, 4, 2)), ValueError, "shape"),
        (np.full((4, 4), np.nan), ValueError, "NaN"),
        (np.array([["a", "b"]]), TypeError, "numeric"),
    ],
)
def test_bad_images_raise_clear_errors(image, error, match):
    with pytest.raises(error, match=match):
        normalize_digit(image)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"invert": "yes"}, "invert must be"), ({"side": 0}, "side must be")],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        normalize_digit(np.eye(5), **kwargs)


def test_hostile_files_raise_os_or_value_errors(sample, tmp_path):
    digit = 255 - sample[2][0].reshape(28, 28)
    rng = np.random.default_rng(0)
    for file_format in ("PNG", "JPEG", "GIF", "BMP", "TIFF"):
        buffer = io.BytesIO()
        Image.fromarray(digit).save(buffer, format=file_format)
        data = bytearray(buffer.getvalue())
        for trial in range(20):
            mangled = bytearray(data)
            if trial % 2:
                mangled = mangled[: int(rng.integers(1, len(mangled)))]
            else:
                for position in rng.integers(0, len(mangled), 8):
                    mangled[position] = int(rng.integers(0, 256))
            path = tmp_path / f"mangled{trial}.{file_format.lower()}"
            path.write_bytes(bytes(mangled))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    read_digit_image(path)
                except (OSError, ValueError):
                    pass


# ---------------------------------------------------------------------------
# DigitNormalizer, the transformer.
# ---------------------------------------------------------------------------
def test_normalizer_in_a_pipeline_matches_the_files(sample, model_file, tmp_path):
    _, _, X_test, _ = sample
    _, model = model_file
    sheets = [
        on_paper(x.reshape(28, 28), canvas=(64, 48), at=(4 + 5 * i, 2 + i), height=32)
        for i, x in enumerate(X_test[:6])
    ]
    X = np.stack(sheets).reshape(6, -1)
    normalizer = DigitNormalizer(image_shape=(48, 64)).fit(X)
    expected = np.stack([normalize_digit(s).ravel() for s in sheets])
    np.testing.assert_array_equal(normalizer.transform(X), expected)
    pipeline = make_pipeline(DigitNormalizer(image_shape=(48, 64)), *model)
    # The classifier's steps are fitted already; only the normaliser needs fit.
    pipeline.steps[0][1].fit(X)
    np.testing.assert_array_equal(pipeline.predict(X), model.predict(expected))
    assert normalizer.get_feature_names_out().shape == (784,)


def test_normalizer_checks_the_image_shape():
    with pytest.raises(ValueError, match="not the pixels of a square image"):
        DigitNormalizer().fit(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="height \\* width"):
        DigitNormalizer(image_shape=(3, 4)).fit(np.zeros((2, 10)))


# The checks' random data (2 to 10 features) are no images: DigitNormalizer()
# refuses them, as it should, so the checks that fit on them cannot pass.
_NOT_IMAGES = "the check's random data of 2-10 features are not square images"
_FIT_ON_RANDOM_DATA = [
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_nan_inf",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1sample",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
]


@parametrize_with_checks(
    [DigitNormalizer()],
    expected_failed_checks=lambda _: dict.fromkeys(_FIT_ON_RANDOM_DATA, _NOT_IMAGES),
)
def test_normalizer_is_a_scikit_learn_transformer(estimator, check):
    check(estimator)
