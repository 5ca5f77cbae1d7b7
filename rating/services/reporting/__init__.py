"""Reporting: totals, the officials' dashboard, aggregates, exports (CSV, PDF list) and imports."""
