"""Offline question answering over Dutch government documents.

Data flow, one module per step:
ingest -> chunk -> embed -> index -> retrieve -> prompts -> generate -> cite -> answer.
"""

__version__ = "0.1.0"
