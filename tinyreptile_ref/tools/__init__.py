"""The tools on top: the command line (cli.py), the demo, the benchmarks, and the output
helpers they share (output.py). Nothing below imports from here."""
