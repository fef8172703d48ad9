"""Readiness assessment: rules over the neutral inventory, a target per workload, reports."""
