"""kubesim: an in-memory Kubernetes API server for tests and demos.

Public surface: `Simulator` and `Config` (run one in-process), `kubesim.testing`
(pytest fixtures) and `python -m kubesim serve`. Everything else is internal.
"""

from .sim import Config, Simulator

__all__ = ["Config", "Simulator"]
__version__ = "0.1.0"
