"""Generator of lrem's e-commerce retrieval benchmark from WordNet 3.0 (see docs/BENCHMARK_DATA.md)."""

from .generate import Config, generate

__all__ = ["Config", "generate"]
