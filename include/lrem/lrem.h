// The whole public API in one include.
#pragma once

#include "lrem/bm25.h"
#include "lrem/config.h"
#include "lrem/dataset.h"
#include "lrem/embedder.h"
#include "lrem/error.h"
#include "lrem/generation.h"
#include "lrem/index.h"
#include "lrem/metrics.h"
#include "lrem/model.h"
#include "lrem/prompt.h"
#include "lrem/retriever.h"
#include "lrem/runtime.h"
#include "lrem/safetensors.h"
#include "lrem/tokenizer.h"
#include "lrem/train.h"
