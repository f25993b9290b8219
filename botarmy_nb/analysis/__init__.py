"""Analysis and sharing: summaries, plots, sweeps, run bundles and transcripts (#11).

The public names are re-exported by ``botarmy_nb`` (``ba.summarize``, ``ba.plot``,
``ba.sweep``, ``ba.get_sweep``, ``ba.import_run``); the modules load on first use.
"""
