"""Order of the examples in the gallery: data first, then training, then use."""

from pathlib import Path

ORDER = [
    "plot_digits_sample.py",
    "plot_model_comparison.py",
    "plot_learning_curves.py",
    "plot_grid_search.py",
    "plot_confusion_matrix.py",
    "plot_first_layer_weights.py",
    "plot_user_images.py",
    "plot_persistence.py",
]


class ExampleOrder:
    """sphinx-gallery ``within_subsection_order`` key: ORDER, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        position = ORDER.index(name) if name in ORDER else len(ORDER)
        return f"{position:03d}-{name}"

    def __repr__(self):
        return f"<{type(self).__name__}>"
