"""Medley: a medallion lakehouse for EventSim music-streaming events."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
__version__ = "0.1.0"
