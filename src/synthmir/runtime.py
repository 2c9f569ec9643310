"""Process-wide settings for the numerical backends, applied before TensorFlow starts."""

from __future__ import annotations

import logging
import os

from synthmir.logs import stderr_fd_to

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


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (through Keras) without its start-up chatter on stderr.

    The CLI's stderr carries its one-line errors. TF_CPP_MIN_LOG_LEVEL=3 silences
    TensorFlow's later native logs, but not the lines it writes while loading (absl logs
    before its logging is initialised), hence the redirection around the import alone.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with open(os.devnull, "wb") as devnull, stderr_fd_to(devnull):
        import keras  # noqa: F401
