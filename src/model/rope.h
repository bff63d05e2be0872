// Rotary position embedding frequencies of a config, computed as Hugging Face's
// modeling_rope_utils does (float32 throughout, so the tables match bit for bit):
// default, linear and llama3 scaling. Internal header (torch).
#pragma once

#include <ATen/ATen.h>

#include "lrem/config.h"

namespace lrem {

// inv_freq [head_dim / 2] float32: 1 / rope_theta^(2i / head_dim), then scaled per
// config.rope_scaling. The attention factor of these types is 1, so cos/sin need no scale.
at::Tensor rope_inverse_frequencies(const ModelConfig& config);

}  // namespace lrem
