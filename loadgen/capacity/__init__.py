"""Many sessions on one machine: the hold profile's plan, and the capacity ramp.

- :mod:`.levels` (pure): the hold schedule for N sessions, the levels of a ramp, and the judging of
  a ramp (the last level that passed);
- :mod:`.machine`: the machine's limits (fd limit, ephemeral ports, cores, memory) as
  :class:`loadgen.sessions_plan.MachineLimits`;
- :mod:`.hold`: ``wsrace run --profile hold --sessions N``: the plan, the derived schedule, the flags
  handed to Locust, and the plain-words lines after the run;
- :mod:`.sampler`: both sides' memory and CPU (psutil, over process trees) and the target's open
  connections, sampled during a level;
- :mod:`.runner`: ``wsrace run --profile capacity`` and ``wsrace capacity``: one hold run per level,
  stepping up until one fails; :mod:`.table` prints its verdict.

The planning itself is :mod:`loadgen.sessions_plan`; the machine-limit error kinds are
:mod:`loadgen.machine_limits`.
"""
