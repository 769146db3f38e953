"""Dataset cartography: record training dynamics inside ``Trainer``, analyse them as a ``DataMap``, plot it."""
from .callback import DataMapCallback, DataMapError
from .datamap import DataMap
from .metrics import METRIC_COLUMNS, DynamicsAccumulator, el2n, gold_statistics, metrics_from_arrays
from .plot import plot_data_map
from .recorder import DynamicsRecorder
from .regions import REGIONS, assign_regions, count_for_fraction, top_positions
from .storage import atomic_write

__all__ = [
    "METRIC_COLUMNS",
    "REGIONS",
    "DataMap",
    "DataMapCallback",
    "DataMapError",
    "DynamicsAccumulator",
    "DynamicsRecorder",
    "assign_regions",
    "atomic_write",
    "count_for_fraction",
    "el2n",
    "gold_statistics",
    "metrics_from_arrays",
    "plot_data_map",
    "top_positions",
]
