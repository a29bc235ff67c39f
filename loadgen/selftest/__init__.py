"""``wsrace selftest``: can these scenarios and thresholds, on this machine, catch these races?

:mod:`.matrix` judges finished runs (pure: results documents in, a table and a score out);
:mod:`.runner` runs ``wsrace run`` once per fault, and once clean, as subprocesses, bounded in time.
It takes the fault names from the catalogue, :mod:`loadgen.protocol.faults`, never from
``target_app``.
"""
