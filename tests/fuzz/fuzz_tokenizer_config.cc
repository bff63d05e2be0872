// tokenizer_config.json, read next to the real stories260K tokenizer.model (added tokens
// must agree with the SentencePiece vocabulary). Tokenizer::load reads files, so each input
// is written to a private scratch file first. An accepted tokenizer must encode and decode
// a text that spells its added tokens.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz_support.h"
#include "lrem/tokenizer.h"

namespace {

std::string model_path() {
  const char* fixtures = std::getenv("LREM_FIXTURES_DIR");
  const std::string dir = fixtures && *fixtures ? fixtures : LREM_FIXTURES_DIR;
  return dir + "/stories260K/tokenizer.model";
}

// The file each input is written to; removed when the fuzzer exits.
class ScratchFile {
 public:
  ScratchFile()
      : path_((std::filesystem::temp_directory_path() /
               ("lrem_fuzz_tokenizer_config." + std::to_string(::getpid()) + ".json"))
                  .string()) {}
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string model = model_path();
  static const ScratchFile scratch;
  const std::string& config = scratch.path();
  {
    std::ofstream out(config, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  lrem::fuzz::expect_value_or_lrem_error([&] {
    const lrem::Tokenizer tokenizer = lrem::Tokenizer::load(model, config);
    std::string text = "Once upon a time";
    for (const lrem::AddedToken& t : tokenizer.added_tokens()) text += " " + t.content;
    const std::vector<int> ids = tokenizer.encode(text, tokenizer.add_bos_token(), tokenizer.add_eos_token());
    for (int id : ids)
      if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
    (void)tokenizer.decode(ids, true);
  });
  return 0;
}
