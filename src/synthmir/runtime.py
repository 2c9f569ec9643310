"""Process-wide settings for the numerical backends, applied before TensorFlow starts."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def configure_threads(threads: int) -> None:
    """Limit TensorFlow and BLAS to ``threads`` cores (the rule's ``threads:``).

    Must run before TensorFlow executes its first op; later calls keep the first setting.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        # Small graphs gain nothing from running independent ops side by side, and a second
        # pool would oversubscribe the cores the scheduler gave the job.
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow fixes its pools at first use; a second model in the same process
        # (tests, the bench) keeps the first setting.
        log.info("thread pools already initialised; keeping the earlier thread counts")
