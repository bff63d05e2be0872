#include "test_support.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <system_error>

namespace fs = std::filesystem;

namespace lrem::testing {

std::string fixtures_dir() {
  if (const char* env = std::getenv("LREM_FIXTURES_DIR"); env && *env) return env;
  return LREM_FIXTURES_DIR;
}

std::string fixture(const std::string& name) {
  fs::path p = fs::path(fixtures_dir()) / name;
  if (fs::exists(p)) return p.string();
  std::cerr << "\n*** SKIP: fixture '" << name << "' not found at " << p
            << " (set LREM_FIXTURES_DIR to the directory holding it) ***\n\n";
  return "";
}

TempDir::TempDir() {
  std::random_device rd;
  for (;;) {
    fs::path p = fs::temp_directory_path() / ("lrem-test-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p.string();
      return;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace lrem::testing
