"""``keraslearn tune``: tune a learner on a table; many workers share a study through one storage URL."""

from __future__ import annotations

import contextlib
import os
import sys

from keraslearn.cli import Once, UsageError
from keraslearn.commands import LEARNER_HELP, _make_learner, add_weight_option, check_cli_learner, remember_table
from keraslearn.console import console as _console
from keraslearn.console import say as _say
from keraslearn.console import score
from keraslearn.outputs import model_out, save_or_keep
from keraslearn.seen_rows import remember_rows
from keraslearn.tasks import load_task, parse_params, pop_weight, seed
from keraslearn._atomic import check_writable


def cmd_tune(args):
    from keraslearn.tuning.report import print_trials, score_name, write_report
    from keraslearn.tuning.storage import redact, storage_url
    from keraslearn.tuning.study import tune

    console = _console(args.quiet)
    if args.cv is not None and args.validation_fraction is not None:
        raise UsageError("pass either --cv or --validation-fraction, not both")
    for flag, value in (("--n-trials", args.n_trials), ("--top", args.top)):
        if value < 1:
            raise UsageError(f"{flag} must be a positive integer; got {value}")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
    if args.cv is not None and args.cv < 2:
        raise UsageError(f"--cv must be 2 folds or more (or use --validation-fraction); got {args.cv}")
    if args.validation_fraction is not None and not 0 < args.validation_fraction < 1:
        raise UsageError(f"--validation-fraction must be in (0, 1); got {args.validation_fraction:g}")
    for path in (args.out, args.report and os.path.join(args.report, "best.keraslearn")):
        if path:
            model_out(path)
            check_writable(path)  # before any trial, not after the refit
    check_cli_learner(args)
    X, y, task = load_task(args, console)
    X, weights = pop_weight(X, args.weight)
    fixed = parse_params(args.param)
    # Fits are seeded (0 unless --random-state) so a trial's score does not depend on the
    # worker that ran it; the sampler stays unseeded without --random-state so workers differ.
    params = {"random_state": 0 if args.random_state is None else args.random_state, **fixed}
    if args.epochs is not None:
        params["epochs"] = args.epochs
    learner = _make_learner(args.learner, task, params)
    space = _space_without(learner, fixed, console)
    refit = bool(args.report or args.out)
    try:
        url = storage_url(args.storage)
    except ValueError as err:  # 'sqlite:/x.db': slashes missing
        raise UsageError(str(err)) from None
    _say(console, f"study storage: {redact(url)}" + (f", study {args.study!r}" if args.study else ""))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras' own lines (--param verbose=2) are not results
            best, study = tune(
                learner, X, y, space=space,
                n_trials=args.n_trials, timeout=args.timeout, cv=args.cv, validation_fraction=args.validation_fraction,
                sample_weight=weights, scoring=args.scoring, storage=url, study_name=args.study, pruner=args.pruner,
                refit=refit, random_state=args.random_state, verbose=0 if args.quiet else 1,
            )
    except (ValueError, TypeError, ImportError) as err:
        raise UsageError(str(err).replace("Use another study_name", "Use another --study")) from None
    except RuntimeError as err:  # nothing completed
        raise UsageError(str(err)) from None
    if not args.quiet:
        print_trials(console, study, top=args.top, weight=args.weight)
        try:
            _say(console, f"best trial {study.best_trial.number}: {score_name(study)} {score(study.best_value)}")
        except ValueError:
            _say(console, "no trial completed yet", style="yellow")
    _say(console, f"study name: {study.study_name}  (resume or add workers with --study {study.study_name})")
    if best is not None and hasattr(best, "model_"):
        remember_table(best, X, y, args.weight)
        remember_rows(best, X, y)  # refit on every row: evaluate on this file is in-sample
    if args.out:
        save_or_keep(best, args.out)
        _say(console, f"best model → {args.out}")
    elif not args.report:
        _say(console, "to save the best model, run the same command with --out best.keraslearn (or --report DIR): "
                      "it resumes the study (running only the trials --n-trials still lacks) and refits the best one")
    if args.report:
        written = write_report(study, args.report, best)
        for name, path in written.items():
            if name != "skipped":
                _say(console, f"{name:<21}→ {path}")
        for name, why in written["skipped"].items():
            _say(console, f"{name} skipped: {why}", style="yellow")
    return 0


def _space_without(learner, fixed: dict, console) -> dict:
    """The learner's search space without the parameters the user fixed with --param."""
    from keraslearn.tuning.spaces import ONLY_WITH, without_fixed

    try:
        space = learner.search_space()
    except (ValueError, ImportError) as err:
        raise UsageError(str(err)) from None
    space, dropped = without_fixed(space, fixed)
    unused = [n for n in dropped if n in ONLY_WITH and n not in fixed]  # frequency_scale, without an embedding
    fixed_names = [n for n in dropped if n not in unused]
    if fixed_names:
        _say(console, f"not tuned (fixed with --param): {', '.join(fixed_names)}")
    if unused:
        _say(console, f"not tuned (unused with the --param values): {', '.join(unused)}")
    if not space:
        raise UsageError("every parameter of the search space is fixed with --param; nothing is left to tune")
    return space


def register(sub):
    p = sub.add_parser(
        "tune",
        help="tune a learner's hyperparameters with Optuna (resumable; many workers via PostgreSQL)",
        description="Tune a learner on DATA (.csv/.tsv/.parquet) to predict --target. The study is stored "
        "(default: ./keraslearn_tuning.db), so re-running the same command resumes it. Start the same "
        "command on many machines with one --storage postgresql://… URL and --study NAME to share the work.",
    )
    p.add_argument("data", help="training data: .csv, .tsv or .parquet, or a dataset name (keraslearn.list_tabular())")
    p.add_argument("--target", action=Once, help="name of the column to predict (a dataset named as DATA has its own)")
    p.add_argument("--learner", default="ff", help=LEARNER_HELP)
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto", type=str.lower,
                   help="default: auto (from the target's type, or from a learner named for one task)")
    p.add_argument("--storage", default=None,
                   help="study storage: a SQLite file path or a URL such as postgresql://user:pw@host/db "
                   "(default: sqlite:///keraslearn_tuning.db)")
    p.add_argument("--study", default=None, help="study name (default: derived from the data and settings)")
    p.add_argument("--n-trials", type=int, default=20,
                   help="finished trials the study should hold, counting earlier runs and other workers "
                   "(default 20)")
    p.add_argument("--timeout", type=float, default=None,
                   help="stop starting trials after this many seconds (default: none; --n-trials ends the study)")
    p.add_argument("--cv", type=int, default=None, help="cross-validation folds per trial (default 5)")
    p.add_argument("--validation-fraction", type=float, default=None,
                   help="score on one held-out share of rows instead of cross-validation (default: none, --cv)")
    p.add_argument("--scoring", default=None, help="scikit-learn scorer name (default: accuracy / R²)")
    p.add_argument("--pruner", choices=("median", "hyperband", "none"), default="median",
                   help="stops unpromising trials early (default: median)")
    p.add_argument("--epochs", type=int, default=None,
                   help="maximum epochs per fit (default: the learner's; early stopping may stop sooner)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="a fixed learner parameter, e.g. --param patience=5 or --param layer_units='(64, 64)' "
                   "(repeatable; values are Python literals, true/false and none in any case, or text); a "
                   "parameter of the search space given here is not tuned")
    p.add_argument("--drop", action="append", metavar="COL", default=[],
                   help="a column not to learn from, e.g. an ID (repeatable)")
    add_weight_option(p)
    p.add_argument("--random-state", type=seed, default=None,
                   help="seed the sampler and fits (default: none; leave unset on workers sharing a study)")
    p.add_argument("--report", default=None, metavar="DIR",
                   help="write PNGs (optimization history, importances, learning curves), trials.csv "
                   "and the refitted best model into DIR")
    p.add_argument("--out", default=None, help="write the best configuration, refitted on all rows, here")
    p.add_argument("--top", type=int, default=10, help="trials shown in the result table (default 10)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    p.set_defaults(func=cmd_tune)

