"""TabNet epoch time and accuracy: keraslearn vs pytorch-tabnet, for benchmarks/speed.py.

Same data, splits, encoded inputs and hyperparameters as ``benchmarks/tabnet_vs_pytorch_tabnet.py``
(pytorch-tabnet's defaults: n_d = n_a = 8, n_steps = 3, gamma 1.3, 2 + 2 GLU layers, batch 1024,
virtual batch 128, Adam 2e-2), measured like the rest of speed.py: a fresh process per run,
wall and CPU seconds per epoch (median after the first epoch), one thread per framework.
Both train a fixed number of epochs on 85 % of the training rows and evaluate the other 15 %
after every epoch (as early stopping would), then are scored on the test rows.
"""

from __future__ import annotations

import statistics
import time

from sklearn.model_selection import train_test_split

import speed_peers as peers
import tabnet_vs_pytorch_tabnet as tn

VALIDATION = 0.15


def _steady(times, i):
    vals = [t[i] for t in times]
    return statistics.median(vals[1:]) if len(vals) > 1 else vals[0]


def tabnet(cfg):
    from keraslearn import TabNetClassifier
    from keraslearn.training.split import validation_split

    X, y, task = tn.load_churn()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    epochs, who = cfg["epochs"], cfg["who"]
    # Fit keraslearn's encoder the same way in both runs (pytorch-tabnet gets its output).
    probe = TabNetClassifier(**tn.SHARED, epochs=1, batch_size=1024, virtual_batch_size=128)
    enc = probe._make_encoder().fit(Xtr)
    tr, va = validation_split(len(ytr), VALIDATION, stratify=ytr, seed=0)  # pytorch-tabnet's; keraslearn's as large
    out = {}
    if who == "keraslearn":
        est = TabNetClassifier(**tn.SHARED, batch_size=1024, virtual_batch_size=128, learning_rate=2e-2,
                               epochs=epochs, patience=epochs, validation_fraction=VALIDATION, random_state=0,
                               callbacks=[peers.epoch_timer("tabnet")])
        t0 = time.perf_counter(), time.process_time()
        est.fit(Xtr, ytr)
        times = peers.EPOCH_TIMES["tabnet"]
        pred = est.predict_proba(Xte)[:, 1]
    elif who == "pytorch_tabnet":
        import torch
        from pytorch_tabnet.callbacks import Callback
        from pytorch_tabnet.tab_model import TabNetClassifier as PTC

        times = []

        class Timer(Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.perf_counter(), time.process_time()

            def on_epoch_end(self, epoch, logs=None):
                times.append((time.perf_counter() - self._t[0], time.process_time() - self._t[1]))

        x_tr, x_te = tn.encoded_matrix(enc, Xtr), tn.encoded_matrix(enc, Xte)
        n_num, cats = enc.spec_.n_numeric, enc.spec_.categorical
        torch.manual_seed(0)
        model = PTC(**tn.SHARED, cat_idxs=list(range(n_num, n_num + len(cats))), cat_dims=[c.n_codes for c in cats],
                    cat_emb_dim=[c.embed_dim for c in cats], optimizer_params=dict(lr=2e-2), seed=0, verbose=0,
                    device_name=peers.torch_device())
        t0 = time.perf_counter(), time.process_time()
        model.fit(x_tr[tr], ytr[tr], eval_set=[(x_tr[va], ytr[va])], max_epochs=epochs, patience=epochs,
                  batch_size=1024, virtual_batch_size=128, callbacks=[Timer()])
        pred = model.predict_proba(x_te)[:, 1]
    else:
        raise ValueError(who)
    out["fit_s"], out["fit_cpu"] = time.perf_counter() - t0[0], time.process_time() - t0[1]
    out.update(epoch_s=_steady(times, 0), epoch_cpu=_steady(times, 1), first_epoch_cpu=times[0][1],
               epochs=len(times), rows=len(tr),  # trained each epoch
               **{k.replace(" ", "_"): float(v) for k, v in tn.score(task, yte, pred).items()})
    return out
