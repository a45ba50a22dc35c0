"""The NumPy twins of the C kernels: one module per csrc/ file, with the same stem
(csrc/dense.c <-> kernels/dense.py), the same function names and argument order, and the
argument checks both backends share (_checks.py). Imports nothing above errors.py."""
