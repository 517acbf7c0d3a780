"""A static, Fingertips-style HTML report of the published warehouse (`vru report`)."""

from ingestion.report.render import ReportError, write_published_report, write_report

__all__ = ["ReportError", "write_published_report", "write_report"]
