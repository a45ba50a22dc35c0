"""The federated layer: the algorithms (TinyReptile, Reptile, FedAvg; algorithms.py) and the
tasks they learn (tasks.py). Uses runtime/ and a backend passed in by the caller."""
