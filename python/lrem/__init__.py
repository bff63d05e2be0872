"""lrem: reasoning-augmented embedding retrieval.

The heavy lifting happens in C++ (libtorch, FAISS, SentencePiece); this package is a thin
layer over the extension module ``lrem._lrem`` with numpy arrays in and out.
"""

from ._lrem import (  # noqa: F401
    Error,
    FormatError,
    InvalidArgument,
    IoError,
    LimitExceeded,
    Generation,
    Model,
    ModelConfig,
    Tokenizer,
)

__all__ = [
    "Error",
    "FormatError",
    "InvalidArgument",
    "IoError",
    "LimitExceeded",
    "Generation",
    "Model",
    "ModelConfig",
    "Tokenizer",
]
