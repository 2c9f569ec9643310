"""Process-wide settings for the numerical backends, applied before TensorFlow starts."""

from __future__ import annotations

import os


def configure_threads(threads: int) -> None:
    """Limit TensorFlow and BLAS to ``threads`` cores (the rule's ``threads:``).

    Must run before TensorFlow executes its first op; later calls are ignored by TF.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
    except RuntimeError:
        pass  # TensorFlow already started in this process: its pools are fixed.
