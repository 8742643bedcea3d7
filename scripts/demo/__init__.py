"""Pieces of ``make demo`` (scripts/demo.py): child processes, the Git side, narration."""
