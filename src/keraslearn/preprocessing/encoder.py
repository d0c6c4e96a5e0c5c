"""TabularEncoder: DataFrame / array → the named Keras inputs an architecture expects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from keraslearn._user_warnings import warn_user
from keraslearn.preprocessing import coding, column_warnings
from keraslearn.preprocessing.coding import MISSING_CODE, N_RESERVED, UNKNOWN_CODE
from keraslearn.preprocessing.encoder_state import EncoderState
from keraslearn.preprocessing.spec import CategoricalSpec, DataSpec, embedding_size, input_name, numeric_quantiles
from keraslearn.preprocessing.validation import match_columns, to_frame

SCALINGS = ("standard", "quantile", "robust", "none")
_NUMERIC_KINDS = {"floating", "integer", "mixed-integer-float", "boolean", "decimal", "empty"}


def _raise_too_large(arr: np.ndarray, names: list, bad, where: str = ""):
    """``bad``: indices into ``names`` of the columns whose values cannot be scaled; ``arr`` holds them."""
    values = arr[:, [j for j in bad if j < arr.shape[1]]]
    with np.errstate(invalid="ignore"):
        largest = np.nanmax(np.abs(values)) if values.size and not np.isnan(values).all() else np.nan
    raise ValueError(
        f"Numeric column(s) {[names[j] for j in bad]} hold values too large to scale{where} "
        f"(up to {largest:.3g}); rescale them (divide by a constant, or take a log) first."
    )


def _is_categorical(col: pd.Series) -> bool:
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype) and dtype != object:
        return True
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return False
    if dtype == object:
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind == "mixed" and col.isna().any():  # skipna skips NaN and None, not NaT or pd.NA among numbers
            kind = pd.api.types.infer_dtype(col.dropna(), skipna=True)
        return kind not in _NUMERIC_KINDS
    return True  # datetimes and anything else: treat as levels


def _as_levels(col: pd.Series) -> pd.Series:
    """Categorical values as strings (missing stays missing), so levels serialize as JSON."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    missing = col.isna().to_numpy()
    out = col.astype(object).map(_level_text).astype(object)
    out[missing] = None
    return out


def _level_text(value) -> str:
    """A level's text: ``str(value)``, but bytes (a Parquet ``binary`` column of text) decoded as UTF-8, so
    that b"a" and "a" are one level, as a CSV of the same data reads it (not "b'a'"), and arrays (an Arrow or
    polars list column's cells) written as lists, as the same values in an object column of lists."""
    if isinstance(value, np.ndarray):
        return str(value.tolist())
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _with_values(numeric: list, frame: pd.DataFrame, categorical: set) -> list:
    """``numeric`` without the columns missing in every row, with a warning naming them.

    Training saw such a column only as its imputed constant, so the model learned nothing
    from it; kept, the values it has at predict time would go through weights that were never
    trained (predictions moved by orders of magnitude). scikit-learn's SimpleImputer leaves
    them out too. Kept when nothing else is left: a model needs an input.
    """
    empty = [c for c in numeric if frame[c].isna().all()]
    if not empty or len(empty) == len(numeric) and not categorical:
        return numeric
    warn_user(
        f"Column(s) {[str(c) for c in empty]} are missing in every training row, so the model cannot learn "
        "from them: they are left out, and the values they have when predicting are ignored."
    )
    gone = set(empty)
    return [c for c in numeric if c not in gone]


class TabularEncoder(EncoderState, TransformerMixin, BaseEstimator):
    """Encode a table for Keras: scaled numbers plus integer codes for categorical columns.

    Numeric columns (numbers and booleans) get median imputation, a 0/1 missing indicator
    for each column that had missing values in training, then scaling. Categorical columns
    (category, string and object columns) become integer codes: ``0`` missing, ``1`` unseen
    or rare (fewer than ``min_frequency`` rows), ``2..`` the kept levels. A missing value or an
    unseen level in a column whose training rows had none (so that its code was never trained)
    is read as the column's most frequent level (``stand_in_codes_``).

    ``transform`` returns a dict of contiguous arrays: ``"numeric"`` (float32, n × d) and
    one ``"cat_<column>"`` (int32, n × 1) per categorical column.

    Parameters
    ----------
    scaling : {"standard", "quantile", "robust", "none"} or None, default="standard"
        How numeric columns are scaled after imputation. "quantile" maps each column to a
        normal distribution (robust to skew and outliers).
    min_frequency : int or float, default=1
        Levels seen in fewer rows (an int) or a smaller share of the rows (a float in (0, 1)) share the
        unknown code.
    embed_size : int, dict or None, default=None
        Embedding width: None uses ``min(600, round(1.6 * n_codes**0.56))``; an int is used
        for every column; a dict ``{column: width}`` overrides per column.
    categorical_features : list of str or None, default=None
        Columns to treat as categorical even if numeric (e.g. integer codes); None infers.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns of X at fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        X's column names, when it has them.
    numeric_columns_ : list
        The numeric (and boolean) columns, in X's order; a column missing in every training row is left out.
    categorical_columns_ : list
        The categorical columns, in X's order.
    indicator_columns_ : list
        The numeric columns that get a 0/1 missing indicator (those with missing values in training).
    medians_ : ndarray of shape (n_numeric_columns,)
        Median of each numeric column, which imputes its missing values.
    center_, scale_ : ndarray of shape (n_numeric_columns,)
        What scaling subtracts and divides by: mean and standard deviation ("standard"), median and IQR
        ("robust"), 0 and 1 for "quantile" and "none"; a constant column's scale is 1e30 (it encodes as 0).
    quantiles_ : ndarray of shape (n_quantiles, n_numeric_columns) or None
        The training quantiles that "quantile" scaling maps to a normal distribution; None for other scalings.
    categories_ : list of list of str
        Per categorical column, its kept levels in sorted order: level ``i`` has code ``i + 2``.
    stand_in_codes_ : list of [int, int]
        Per categorical column, the codes a missing value and an unseen level are read as (the reserved
        codes 0 and 1, or the most frequent level's code when training had no such rows).
    spec_ : DataSpec
        The encoded inputs: width of ``"numeric"``, one :class:`CategoricalSpec` per categorical column.
    """

    def __init__(self, *, scaling="standard", min_frequency=1, embed_size=None, categorical_features=None):
        self.scaling = scaling
        self.min_frequency = min_frequency
        self.embed_size = embed_size
        self.categorical_features = categorical_features

    # ------------------------------------------------------------------ fit
    def _validate_params(self):
        if self.scaling is not None and self.scaling not in SCALINGS:  # None: "none", as scikit-learn's "off"
            raise ValueError(f"scaling must be one of {SCALINGS} or None, got {self.scaling!r}.")
        mf = self.min_frequency
        share = isinstance(mf, (float, np.floating))
        if isinstance(mf, bool) or not isinstance(mf, (int, np.integer)) and not share or not (
                0 < mf < 1 if share else 0 <= mf):
            # As scikit-learn's OneHotEncoder: a float is a share of the rows, a count of rows is an int.
            raise ValueError(f"min_frequency must be an int >= 0 (rows) or a float in (0, 1) (a share of the rows), "
                             f"got {mf!r}{'; for a count of rows give an int' if share and mf >= 1 else ''}.")
        es = self.embed_size
        sizes = es.values() if isinstance(es, dict) else [] if es is None else [es]
        if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in sizes):
            raise ValueError(
                f"embed_size must be None, a positive int or a dict of column name to positive int, got {es!r}."
            )

    def fit(self, X, y=None):
        """Learn column kinds, medians, scales and category levels from the training data.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric, boolean and categorical (category / string / object) columns; missing values allowed.
        y : None
            Ignored (scikit-learn's transformer signature).

        Returns
        -------
        self
        """
        self._validate_params()
        frame, has_names = to_frame(X, estimator_name=type(self).__name__)
        self._fit_frame(frame, has_names)
        return self

    def fit_transform(self, X, y=None):
        """Fit, and return the encoding of ``X`` (computed once: fitting needs it for the quantiles).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric, boolean and categorical (category / string / object) columns; missing values allowed.
        y : None
            Ignored (scikit-learn's transformer signature).
        """
        self._validate_params()
        frame, has_names = to_frame(X, estimator_name=type(self).__name__)
        return self._fit_transform_frame(frame, has_names)

    def _fit_frame(self, frame: pd.DataFrame, has_names: bool):
        self._fit_columns(frame, has_names)
        if self.spec_.n_numeric:
            self._set_quantiles(self._transform_frame(frame))
        return self

    def _fit_transform_frame(self, frame: pd.DataFrame, has_names: bool, rows=None) -> dict:
        """Fit on ``frame`` and return its encoding: the one transform that fitting needs anyway.

        ``rows``: the rows to learn levels, medians and scales from (those of sample_weight > 0; the
        others are as if removed); each column's kind is still read from the whole column, so a value only
        the others hold (a "?" among numbers) gives the column the kind it has without weights."""
        self._fit_columns(frame, has_names, rows)
        encoded = self._transform_frame(frame)
        self._set_quantiles(encoded if rows is None else {"numeric": encoded["numeric"][rows]})
        return encoded

    def _keep_trained_inputs(self, encoded: dict, rows: np.ndarray) -> bool:
        """Drop what no row of ``rows`` (the training rows of a fit that holds the others out for
        validation) trains: categorical levels that only held-out rows hold are read as unseen from now on,
        a missing or unseen value as the training rows' most frequent level where none of them had one,
        and a numeric column's missing indicator goes where no training row misses a value (its missing
        values are imputed only). Their embedding rows and weights would never be trained and would move
        predictions arbitrarily. Changes ``encoded`` (the encoder's output on the rows it was fitted on)
        to match; returns whether anything changed (``spec_`` then has fewer codes or numeric inputs)."""
        changed = self._keep_trained_indicators(encoded, rows)
        for j, cspec in enumerate(self.spec_.categorical):
            codes = encoded[cspec.input_name]
            counts = np.bincount(codes[rows, 0], minlength=cspec.n_codes)
            trained = counts[N_RESERVED:] > 0
            old = self._stand_ins()[j]
            if trained.all() and (counts[MISSING_CODE] or old[0] != MISSING_CODE) and (
                    counts[UNKNOWN_CODE] or old[1] != UNKNOWN_CODE):
                continue  # every code that transform gives is trained
            stand_ins = coding.stand_in_codes(int(counts[MISSING_CODE]), int(counts[UNKNOWN_CODE]),
                                              counts[N_RESERVED:][trained].tolist())
            new = np.full(cspec.n_codes, stand_ins[1], dtype=codes.dtype)  # a level held out: unseen
            new[MISSING_CODE] = stand_ins[0]
            new[N_RESERVED:][trained] = N_RESERVED + np.arange(int(trained.sum()))
            np.take(new, codes, out=codes)
            self.categories_[j] = [level for level, kept in zip(self.categories_[j], trained) if kept]
            self.stand_in_codes_[j] = stand_ins
            changed = True
        if changed:
            self._set_lookups()
            self.spec_ = dataclasses.replace(self.spec_, categorical=self._make_spec().categorical)
        return changed

    def _keep_trained_indicators(self, encoded: dict, rows: np.ndarray) -> bool:
        """Drop the missing indicators (the last columns of ``encoded["numeric"]``) that no row of ``rows`` sets."""
        d = len(self.numeric_columns_)
        if not self.indicator_columns_:
            return False
        set_ = encoded["numeric"][rows, d:].any(axis=0)
        if set_.all():
            return False
        kept = np.concatenate([np.ones(d, dtype=bool), set_])
        encoded["numeric"] = np.ascontiguousarray(encoded["numeric"][:, kept])
        self.indicator_columns_ = [c for c, has in zip(self.indicator_columns_, set_) if has]
        spec = self.spec_
        self.spec_ = dataclasses.replace(
            spec, n_numeric=int(kept.sum()), numeric_names=tuple(np.asarray(spec.numeric_names, dtype=object)[kept]),
            numeric_quantiles=tuple(q for q, k in zip(spec.numeric_quantiles, kept) if k))
        return True

    def _set_quantiles(self, encoded: dict):
        if self.spec_.n_numeric:
            # Quantiles of the encoded training data: bin edges for piecewise-linear embeddings.
            self.spec_ = dataclasses.replace(self.spec_, numeric_quantiles=numeric_quantiles(encoded["numeric"]))

    def _fit_columns(self, frame: pd.DataFrame, has_names: bool, rows=None):
        self.n_features_in_ = frame.shape[1]
        if has_names:
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        forced = set(self.categorical_features or ())
        unknown = forced - set(frame.columns)
        if unknown:
            raise ValueError(f"categorical_features names columns not in X: {sorted(unknown)}.")
        self.categorical_columns_ = [c for c in frame.columns if c in forced or _is_categorical(frame[c])]
        cat_set = set(self.categorical_columns_)
        learned = frame if rows is None else frame.iloc[rows]
        self.numeric_columns_ = _with_values([c for c in frame.columns if c not in cat_set], learned, cat_set)
        self._fit_numeric(learned)
        self._fit_categorical(learned)
        self.spec_ = self._make_spec()

    def _numeric_array(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.numeric_columns_:
            return np.empty((len(frame), 0))
        arr = coding.numeric_matrix(frame, self.numeric_columns_)  # a read-only view when possible
        bad = np.isinf(arr)
        if bad.any():
            cols = [self.numeric_columns_[j] for j in np.flatnonzero(bad.any(axis=0))]
            raise ValueError(
                f"Input contains infinity (inf) in numeric column(s) {cols}; replace ±inf with "
                "a finite value or NaN (NaN is imputed)."
            )
        return arr

    def _fit_numeric(self, frame):
        arr = self._numeric_array(frame)
        # Column by column: a few column-sized temporaries instead of copies of the table.
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, by column
            self.medians_, has_nan, self.center_, self.scale_, self.quantiles_ = coding.column_stats(arr, self.scaling)
        self.indicator_columns_ = [c for c, has in zip(self.numeric_columns_, has_nan) if has]
        column_warnings.warn_numeric_ids(arr, self.numeric_columns_)
        bad = ~(np.isfinite(self.center_) & np.isfinite(self.scale_))
        if bad.any():  # e.g. the std of ±1e300 overflows: every value would scale to 0
            _raise_too_large(arr, self.numeric_columns_, np.flatnonzero(bad))

    def _fit_categorical(self, frame):
        n = len(frame)
        mf = self.min_frequency
        threshold = mf * n if isinstance(mf, (float, np.floating)) and mf < 1 else mf
        self.categories_, self.stand_in_codes_ = [], []
        for col in self.categorical_columns_:
            counts = {str(level): int(c) for level, c in coding.level_counts(frame[col], _as_levels).items()}
            counts.pop("", None)  # an empty text is missing, as pd.read_csv reads it: a CSV and a Parquet file agree
            kept = sorted(level for level, c in counts.items() if c >= threshold)
            self.categories_.append(kept)
            n_kept = [counts[level] for level in kept]
            self.stand_in_codes_.append(coding.stand_in_codes(
                n - sum(counts.values()), sum(counts.values()) - sum(n_kept), n_kept))
            named = col in set(self.categorical_features or ())  # categorical on the user's word
            column_warnings.warn_suspicious(frame[col], sorted(counts), n, len(kept) + N_RESERVED, named=named)
        self._set_lookups()

    def _set_lookups(self):
        # level -> code dicts, built at fit (not lazily: transform must not change the state)
        self._level_codes = [{lvl: i + N_RESERVED for i, lvl in enumerate(levels)} for levels in self.categories_]
        self._spelled_apart = [column_warnings.spelled_apart(levels) for levels in self.categories_]
        self._category_tables = [{} for _ in self.categories_]  # see coding.category_codes
        self._normal_levels = [None for _ in self.categories_]  # see _normal_levels_of
        self._time_codes = [None for _ in self.categories_]  # see _times_matched
        self._truth_codes = [None for _ in self.categories_]  # see _truths_matched

    def _make_spec(self) -> DataSpec:
        taken: set[str] = {"numeric"}
        cats = []
        sizes = self.embed_size if isinstance(self.embed_size, dict) else {}
        unknown = set(sizes) - set(self.categorical_columns_)
        if unknown:
            raise ValueError(f"embed_size names columns that are not categorical: {sorted(unknown)}.")
        for col, levels in zip(self.categorical_columns_, self.categories_):
            n_codes = len(levels) + N_RESERVED
            if col in sizes:
                dim = int(sizes[col])
            elif isinstance(self.embed_size, (int, np.integer)) and not isinstance(self.embed_size, bool):
                dim = int(self.embed_size)
            else:
                dim = embedding_size(n_codes)
            cats.append(CategoricalSpec(str(col), input_name(col, taken), n_codes, dim))
        names = [str(c) for c in self.numeric_columns_] + [f"{c}__missing" for c in self.indicator_columns_]
        return DataSpec(n_numeric=len(names), categorical=tuple(cats), numeric_names=tuple(names))

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Encode X with the fitted state; see the class docstring for the output.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows with the columns of fit (matched by name, else by position).
        """
        check_is_fitted(self, "spec_")
        frame, has_names = to_frame(X, estimator_name=type(self).__name__)
        frame = match_columns(
            frame, has_names, getattr(self, "feature_names_in_", None), self.n_features_in_, type(self).__name__
        )
        return self._transform_frame(frame)

    def _transform_frame(self, frame: pd.DataFrame) -> dict:
        out = {}
        if self.spec_.n_numeric:
            arr = self._numeric_array(frame)
            column_warnings.warn_all_missing(arr, self.numeric_columns_, self.indicator_columns_)
            idx = [self.numeric_columns_.index(c) for c in self.indicator_columns_]
            if self.quantiles_ is not None:
                scale = self._quantile_transform
            else:
                def scale(a):
                    return (a - self.center_) / self.scale_

            out["numeric"] = coding.transform_numeric(arr, self.medians_, idx, scale)
            # |x| near 1e308 (mean/std overflow) or beyond float32's 3.4e38; the whole-array check
            # first: a reduction along columns costs ten times more.
            if not np.isfinite(out["numeric"]).all():
                finite = np.isfinite(out["numeric"]).all(axis=0)
                names = list(self.numeric_columns_) + [f"{c}__missing" for c in self.indicator_columns_]
                bad = np.flatnonzero(~finite)
                j = bad[0]  # a numeric column (its missing indicator is 0 or 1)
                with np.errstate(over="ignore", invalid="ignore"):
                    far = np.nanargmax(np.abs((arr[:, j] - self.center_[j]) / self.scale_[j]))
                    value, centre, spread = arr[far, j], self.center_[j], self.scale_[j]
                    times = abs(value - centre) / spread
                where = ("beyond float32's range" if self.scaling in ("none", None) else
                         f"{times:.3g} times the column's training scale ({spread:.3g}) from its training centre "
                         f"({centre:.6g})")
                raise ValueError(
                    f"Numeric column(s) {[names[i] for i in bad]} hold values too far from the training data to scale "
                    f"into float32: {names[j]!r} = {value:.6g} is {where}; check the column's units, or rescale it "
                    "(divide by a constant, or take a log) before fitting."
                )
        if self.categorical_columns_ and getattr(self, "_truth_codes", None) is None:
            self._set_lookups()  # an encoder unpickled from before the lookups (or the last of them) existed
        stand_ins = self._stand_ins()
        emptied = {}  # columns training never saw missing, missing in every row: {name: what they are read as}
        for j, (col, cspec) in enumerate(zip(self.categorical_columns_, self.spec_.categorical)):
            codes = coding.category_codes(
                frame[col], self._level_codes[j], UNKNOWN_CODE, MISSING_CODE, lambda c, j=j: self._codes_general(c, j),
                cache=self._category_tables[j],
            )
            unknown = codes == UNKNOWN_CODE
            if unknown.any() and "" not in self._level_codes[j]:  # (a level in artifacts from before)
                rows = np.flatnonzero(unknown)  # as text: a cell holding a list would compare element by element
                empty = rows[frame[col].iloc[rows].astype(str).eq("").to_numpy(dtype=bool, na_value=False)]
                codes[empty], unknown[empty] = MISSING_CODE, False
            if unknown.any():
                unknown = self._times_matched(frame[col], codes, unknown, j)
            if unknown.any():
                unknown = self._truths_matched(frame[col], codes, unknown, j)
            # Levels such as "02139": usually none, so no cost per call. One warning about a column.
            said = self._spelled_apart[j] and column_warnings.warn_numbers_for_text(frame[col], unknown,
                                                                                     self._spelled_apart[j])
            # A column that pooled rare levels in training reads them as unknown too: no word of unseen values
            # there (the unknown code stands for itself only when training had rare rows to teach it).
            pooled = stand_ins[j][1] == UNKNOWN_CODE
            if unknown.any() and not pooled and not said:
                if not column_warnings.warn_respelled(frame[col], unknown, self._normal_levels_of(j)):
                    column_warnings.warn_all_unseen(frame[col], unknown, codes == MISSING_CODE, self.categories_[j])
            stand_in = stand_ins[j][0]
            if stand_in != MISSING_CODE and len(codes) >= column_warnings.MANY_ROWS and codes[0] == MISSING_CODE \
                    and (codes == MISSING_CODE).all():
                emptied[col] = (self.categories_[j][stand_in - N_RESERVED] if stand_in >= N_RESERVED else None)
            out[cspec.input_name] = coding.use_stand_ins(codes, stand_ins[j]).reshape(-1, 1)
        column_warnings.warn_levels_all_missing(emptied, len(frame))
        return out

    def _normal_levels_of(self, j: int) -> dict:
        """{normal form: level} of column ``j``'s levels, made the first time it meets unseen values
        (in a list made at fit, as the lookups: transform leaves the attributes as they are)."""
        tables = self._normal_levels
        if tables[j] is None:
            tables[j] = {column_warnings.normal_form(str(level)): level for level in reversed(self.categories_[j])}
        return tables[j]

    def _times_matched(self, col: pd.Series, codes: np.ndarray, unknown: np.ndarray, j: int) -> np.ndarray:
        """Unknown values that are a level's date or time written otherwise ("2024-01-02" for the level
        "2024-01-02 00:00:00", a date object, a zone added, the same instant in another zone) get its
        code; returns the unknown mask.

        Only in a column whose levels are all times (found the first time it meets unseen values)."""
        table = self._time_codes[j]
        if table is None:
            table = self._time_codes[j] = coding.time_codes(self.categories_[j], N_RESERVED)
        if not table:
            return unknown
        return coding.match_times(col, codes, unknown, table, UNKNOWN_CODE)

    def _truths_matched(self, col: pd.Series, codes: np.ndarray, unknown: np.ndarray, j: int) -> np.ndarray:
        """True/False values get the code of the level that says so, in a column whose levels are a pair of
        truth words ("yes"/"no", "TRUE"/"FALSE", ...): a CSV's yes/no column met by a Parquet file's or a
        DataFrame's booleans was unknown in every row, silently. Returns the unknown mask."""
        table = self._truth_codes[j]
        if table is None:
            table = self._truth_codes[j] = coding.truth_codes(self.categories_[j], N_RESERVED)
        if not table:
            return unknown
        return coding.match_truths(col, codes, unknown, table)

    def _codes_general(self, col: pd.Series, j: int) -> np.ndarray:
        values = _as_levels(col)
        codes = pd.Index(self.categories_[j], dtype=object).get_indexer(values).astype(np.int32) + N_RESERVED
        codes[codes == N_RESERVED - 1] = UNKNOWN_CODE  # get_indexer gives -1 for unseen and missing
        codes[values.isna().to_numpy()] = MISSING_CODE
        unknown = np.flatnonzero(codes == UNKNOWN_CODE)
        if len(unknown) and not isinstance(col.dtype, pd.CategoricalDtype):  # 1.0 for level "1", and back
            lookup = self._level_codes[j]
            codes[unknown] = [coding.number_code(v, lookup, UNKNOWN_CODE) for v in col.iloc[unknown]]
        return codes

    def _quantile_transform(self, arr: np.ndarray) -> np.ndarray:
        from scipy.special import ndtri

        q = self.quantiles_
        refs = np.linspace(0.0, 1.0, q.shape[0])
        res = np.empty_like(arr)
        for j in range(arr.shape[1]):
            # Average the forward and backward interpolation so ties map to the middle. A value beyond the
            # training range is read as the extreme it passes: else, with the largest value tied in training
            # (4 of 40 rows), the rows at it sat at +1.6 sd and any larger value at +5.2 sd, the clip below,
            # a step the network had never seen (ResNet predicted 96 at speed 24 and 305 at 24.5).
            x = np.clip(arr[:, j], q[0, j], q[-1, j])
            with np.errstate(over="ignore", invalid="ignore"):  # NaN from subnormal spacing: see below
                lo = np.interp(x, q[:, j], refs)
                hi = -np.interp(-x, -q[::-1, j], -refs[::-1])
                res[:, j] = 0.5 * (lo + hi)
            bad = np.isnan(res[:, j])
            if bad.any():
                # Quantiles a subnormal apart (e.g. 0 and 5e-324): np.interp's slope overflows to
                # inf and gives NaN. Their rank among the quantiles (ties to the middle) instead.
                left, right = np.searchsorted(q[:, j], x[bad], "left"), np.searchsorted(q[:, j], x[bad], "right")
                res[bad, j] = np.clip((left + right - 1) / 2 / (len(refs) - 1), 0.0, 1.0)
            if q[0, j] == q[-1, j]:  # a constant column: 0 whatever the value, as in training (see column_stats)
                res[:, j] = 0.5
        eps = 1e-7
        return ndtri(np.clip(res, eps, 1 - eps))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # imputed
        tags.input_tags.string = True  # text and category columns are coded
        tags.input_tags.categorical = True
        return tags
