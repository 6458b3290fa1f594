"""Micro-expression recognition: features (``features.py``), the network (``nets.py``, torch), the
task functions (``task.py``: load_dataset, new_model, train, evaluate …). See docs/recognition.md."""
