"""Persistence of a fitted TabularEncoder: its state as JSON and arrays, no pickle needed."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from keraslearn.preprocessing.coding import MISSING_CODE, N_RESERVED, UNKNOWN_CODE
from keraslearn.preprocessing.spec import DataSpec


class EncoderState:
    """``get_state`` / ``from_state`` of :class:`keraslearn.preprocessing.encoder.TabularEncoder`."""

    def _stand_ins(self) -> list:
        """``stand_in_codes_``: per categorical column, the codes a missing value and an unseen level are
        read as; the reserved codes themselves for an encoder unpickled from before they existed."""
        return getattr(self, "stand_in_codes_", None) or [[MISSING_CODE, UNKNOWN_CODE] for _ in self.categories_]

    def get_state(self) -> tuple[dict, dict]:
        """Fitted state as ``(json_dict, arrays)``; no pickle needed to store it."""
        check_is_fitted(self, "spec_")
        names = getattr(self, "feature_names_in_", None)
        state = {
            "params": self.get_params(),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None if names is None else [str(c) for c in names],
            "numeric_columns": [str(c) for c in self.numeric_columns_],
            "categorical_columns": [str(c) for c in self.categorical_columns_],
            "indicator_columns": [str(c) for c in self.indicator_columns_],
            "categories": self.categories_,
            "stand_in_codes": self._stand_ins(),
            "spec": self.spec_.to_dict(),
        }
        arrays = {"medians": self.medians_, "center": self.center_, "scale": self.scale_}
        if self.quantiles_ is not None:
            arrays["quantiles"] = self.quantiles_
        return state, arrays

    @classmethod
    def from_state(cls, state: dict, arrays: dict) -> "EncoderState":
        enc = cls(**state["params"])
        enc.n_features_in_ = state["n_features_in"]
        if state["feature_names_in"] is not None:
            enc.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        enc.numeric_columns_ = state["numeric_columns"]
        enc.categorical_columns_ = state["categorical_columns"]
        enc.indicator_columns_ = state["indicator_columns"]
        enc.categories_ = state["categories"]
        # An artifact from before they existed: the reserved codes as they were (0 and 1).
        enc.stand_in_codes_ = state.get("stand_in_codes") or [[MISSING_CODE, UNKNOWN_CODE] for _ in enc.categories_]
        enc.spec_ = DataSpec.from_dict(state["spec"])
        enc.medians_, enc.center_, enc.scale_ = arrays["medians"], arrays["center"], arrays["scale"]
        enc.quantiles_ = arrays.get("quantiles")
        enc._check_state()
        enc._set_lookups()
        return enc

    def _check_state(self):
        """Refuse a stored state whose arrays do not fit its columns: numpy would broadcast a
        shorter array over the rows and transform every value wrongly, without an error."""
        d = len(self.numeric_columns_)
        shapes = {name: np.shape(getattr(self, name)) for name in ("medians_", "center_", "scale_")}
        problems = [f"{name} has shape {shape}" for name, shape in shapes.items() if shape != (d,)]
        q = self.quantiles_
        if q is not None and (np.ndim(q) != 2 or np.shape(q)[1] != d or np.shape(q)[0] < 2):
            problems.append(f"quantiles_ has shape {np.shape(q)}")
        if len(self.categories_) != len(self.categorical_columns_):
            problems.append(f"{len(self.categories_)} category lists")
        if len(self.stand_in_codes_) != len(self.categorical_columns_) or any(
            not 0 <= c < len(levels) + N_RESERVED for pair, levels in zip(self.stand_in_codes_, self.categories_)
            for c in pair
        ):
            problems.append(f"stand-in codes {self.stand_in_codes_}")
        if not set(self.indicator_columns_) <= set(self.numeric_columns_):
            problems.append("missing indicators for non-numeric columns")
        if self.spec_.n_numeric != d + len(self.indicator_columns_) or len(self.spec_.categorical) != len(
            self.categorical_columns_
        ):
            problems.append("a DataSpec of other widths")
        if problems:
            raise ValueError(
                f"TabularEncoder state is inconsistent: {d} numeric and {len(self.categorical_columns_)} "
                f"categorical columns, but {'; '.join(problems)}."
            )
