"""``wsrace bench``: wsrace's Locust load generator beside two baselines, on the same workloads.

- :mod:`.workloads`: what runs, the metrics, the targets (data);
- :mod:`.generators`: the three clients, each its own subprocess;
- :mod:`.echo_server`: the server they all load;
- :mod:`.processes`: starting (on :mod:`loadgen.children`), pinning and stopping those subprocesses;
- :mod:`.measure`: CPU and memory of a process tree (psutil);
- :mod:`.runner`: one measured sample, and the whole schedule of runs;
- :mod:`.report`: medians, spreads, ratios, targets, the table and the JSON (pure).

Importing this package loads nothing: the generators must patch gevent before anything else.
It may import the rest of loadgen (the generators use its session and user); nothing in loadgen
below the CLI imports it.
"""
