"""Stage 3, learning: dataset splits, Keras models and their layers, training, the saved model."""
