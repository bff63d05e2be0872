"""lrem: reasoning-augmented embedding retrieval.

The heavy lifting happens in C++ (libtorch, FAISS, SentencePiece); this package is a thin
layer over the extension module ``lrem._lrem`` with numpy arrays in and out.
"""

from ._lrem import (  # noqa: F401
    BM25,
    Index,
    ItemStore,
    MetricsReport,
    bm25_tokenize,
    english_stop_words,
    evaluate_rankings,
    read_items,
    read_qrels,
    read_queries,
    write_items,
    Error,
    FormatError,
    InvalidArgument,
    IoError,
    LimitExceeded,
    CacheStats,
    Embedder,
    Generation,
    Model,
    Retriever,
    SearchHit,
    SearchResponse,
    build_index,
    save_index,
    ModelConfig,
    Tokenizer,
)

__all__ = [
    "BM25",
    "Index",
    "ItemStore",
    "MetricsReport",
    "bm25_tokenize",
    "english_stop_words",
    "evaluate_rankings",
    "read_items",
    "read_qrels",
    "read_queries",
    "write_items",
    "Error",
    "FormatError",
    "InvalidArgument",
    "IoError",
    "LimitExceeded",
    "CacheStats",
    "Embedder",
    "Generation",
    "Model",
    "Retriever",
    "SearchHit",
    "SearchResponse",
    "build_index",
    "save_index",
    "ModelConfig",
    "Tokenizer",
]

from . import train  # noqa: E402,F401  (lrem.train.pretrain / sft / grpo)
