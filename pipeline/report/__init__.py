"""The quality report: ``report.json`` (the machine-readable source), ``report.md`` and ``report.html``."""
from pipeline.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
