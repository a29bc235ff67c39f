"""``wsrace soak``: the same load run again and again against one target, to see that nothing leaks.

One target process serves every run; after each run, once the target is idle again, its memory,
its open files and its gauges (connections, jobs, background tasks) are read and compared with the
first run's. A leak shows as growth from run to run; a correct target stays flat.

- :mod:`.judge` — pure: the figures of a soak and their verdict (flatness, leaks), no I/O.
- :mod:`.report` — pure: the table, the drift between runs, the JSON document.
- :mod:`.probe` — reads processes (psutil) and the target's ``/metrics``, with deadlines.
- :mod:`.machine` — describes the machine a soak ran on (cores, CPU model, versions).
- :mod:`.runner` — runs the soak: starts the target, then ``wsrace run`` once per run, as a user would.
"""
