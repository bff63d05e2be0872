"""lrem: reasoning-augmented embedding retrieval.

The heavy lifting happens in C++ (libtorch, FAISS, SentencePiece); this package is a thin
layer over the extension module ``lrem._lrem`` with numpy arrays in and out.
"""

import os as _os

# OpenMP threads that spin while waiting for work starved the other threads on a shared
# 2-core machine (training ran 10x slower, docs/RESULTS.md). libgomp reads this once, when the
# extension loads it, so it is set here, before the import; an explicit setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._lrem import (  # noqa: E402,F401
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
    num_threads,
    prompt_presets,
    set_num_threads,
    Retriever,
    SearchHit,
    SearchResponse,
    build_index,
    save_index,
    ModelConfig,
    Tokenizer,
    CurationResult,
    EvaluationRun,
    clean_cot,
    curate_triplets,
    KeywordTeacher,
    default_keyword_prompt,
    parse_keywords,
    evaluate,
    num_threads,
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
    "num_threads",
    "prompt_presets",
    "set_num_threads",
    "Retriever",
    "SearchHit",
    "SearchResponse",
    "build_index",
    "save_index",
    "ModelConfig",
    "Tokenizer",
    "CurationResult",
    "EvaluationRun",
    "clean_cot",
    "curate_triplets",
    "evaluate",
    "num_threads",
]

from ._argument_errors import ArgumentTypeError, translate_argument_errors  # noqa: E402

__all__.append("ArgumentTypeError")
translate_argument_errors(globals(), __all__[:-1])
del translate_argument_errors

from . import train  # noqa: E402,F401  (lrem.train.pretrain / sft / grpo)
