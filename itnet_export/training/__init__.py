"""Training ItNets: joint multi-output loss, metrics and AUC, atomic checkpoints, trainer, grid search.

Modules (imported on demand; this package imports nothing itself):

* ``checkpoint`` - atomic save/load of model, optimiser, scheduler, epoch, RNG states, metrics;
* ``loss`` - the normalised joint loss and the weight presets of the paper's ablations;
* ``metrics`` - confusion matrix, mIoU, pixel accuracy, AUC over MACs;
* ``trainer`` - ``TrainConfig`` and ``train`` (``mpsim train``);
* ``grid`` - the (L, N, K) grid search and its selection rule (``mpsim grid``).
"""
