"""fvc: train, evaluate and compare fake-video classifiers as a Snakemake workflow.

The package holds every piece of logic; the Snakemake rules only wire files to these functions.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
