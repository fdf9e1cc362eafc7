"""Evaluation: metrics and cross-model comparison."""
