"""Monitoring of live paper sessions: the model's live metrics against its registration
figures, feature drift (PSI, KS) against the training reference, and data quality
(stale data, gaps, outlier returns, bad ticks). See :func:`core.monitoring.live.monitor_observers`.
"""
