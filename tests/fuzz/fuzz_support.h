// What every lrem fuzz target checks: a parser given arbitrary bytes either returns a
// value or throws an lrem::Error (the documented way to refuse input). Any other exception
// escaping it is a bug (for example a nlohmann::json type_error nobody anticipated), and
// so is anything the sanitizers catch.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "lrem/error.h"

namespace lrem::fuzz {

template <class Parse>
void expect_value_or_lrem_error(Parse&& parse) {
  try {
    parse();
  } catch (const lrem::Error&) {
    // Refused with a clear error: the expected outcome for most inputs.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uncaught non-lrem exception: %s\n", e.what());
    std::abort();
  }
}

inline std::string as_string(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace lrem::fuzz
