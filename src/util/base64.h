// RFC 4648 base64 (standard alphabet, padded), as OpenAI's embeddings API encodes vectors.
#pragma once

#include <cstddef>
#include <string>

namespace lrem {

std::string base64_encode(const void* data, size_t size);

}  // namespace lrem
