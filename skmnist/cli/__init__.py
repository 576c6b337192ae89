"""The ``skmnist`` command line: train, evaluate and use digit classifiers.

``skmnist train`` fits ``make_pipeline(PixelScaler(), MLPDigitClassifier())``
on MNIST and saves it in the secure format of :mod:`skmnist.persistence`;
``skmnist evaluate`` scores a saved model on the MNIST test set; ``skmnist
predict`` classifies IDX files, ``.npy`` arrays or image files. ``python -m
skmnist`` is the same program.
Run ``skmnist <command> --help`` for the options of each command.

Errors are reported as one ``skmnist: error: <message>`` line on stderr, with
exit status 2 for usage errors (unknown options, unknown or invalid
``--param``, a ``--device`` that is not a device name) and 1 for runtime
errors (missing files, data of the wrong shape, files that are not skmnist
models, unavailable devices).

Model files are secure by default: ``skmnist train`` writes the format of
:mod:`skmnist.persistence` (``skmnist-model.skmnist``), which ``evaluate`` and
``predict`` load without running code from the file. A pickle (joblib) file,
which ``train --out FILE.joblib`` (or ``.pkl``) writes, can run arbitrary code
when loaded: ``evaluate`` and ``predict`` refuse it unless given
``--allow-pickle``, and never unpickle a file named ``*.skmnist``. Which
format a file is, and how it loads, is decided by
:func:`skmnist.persistence.load_model_file` and
:func:`~skmnist.persistence.save_model_file`.

The input files of ``predict`` are read by
:func:`skmnist.datasets.read_samples`, which Python code can call too.

The modules of this package: ``_parser`` builds the argument parser (help
texts included) from the option types of ``_options``; ``_train``,
``_evaluate`` and ``_predict`` run one command each, loading models and MNIST
through ``_loading`` and printing through ``_output``; ``_main`` runs a
command and turns its errors into exit statuses.

The progress bar needs tqdm (one line per epoch is printed without it),
``predict`` on image files needs Pillow and ``evaluate --plot`` needs
matplotlib: ``pip install -e ".[cli]"`` installs all three.
"""

from ._main import main
from ._parser import build_parser

__all__ = ["build_parser", "main"]
