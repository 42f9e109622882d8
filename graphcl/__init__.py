"""graphcl: graph contrastive learning on PyTorch Geometric."""
from __future__ import annotations

__version__ = "0.1.0"
