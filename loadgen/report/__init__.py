"""The run over time and the verdict where people look: the results' ``timeline``, the PNG plot, the
verdict in Locust's HTML report.

- :mod:`.timeline` (pure): per-interval samples from cumulative counts and histograms, bounded.
- :mod:`.plot` (pure function of a results document; matplotlib, imported lazily): the PNG.
- :mod:`.html` (pure): the verdict and plot as an HTML section, put into Locust's report.
- :mod:`.sampler` (inside Locust, judging process only): the greenlet that samples each run.
- :mod:`.hooks` (inside Locust): what the plugin registers — the sampler, the plot and report at
  the end of the run, and the verdict in the web UI's ``/stats/report``.

Importing this package loads nothing; the pure modules import neither Locust nor gevent.
"""
