#include "model/text_normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include <algorithm>

#include "lrem/error.h"
#include "model/stage_sequence.h"

namespace lrem {

namespace {

bool is_ascii(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

class UnicodeForm final : public TextNormalizer {
 public:
  UnicodeForm(const JsonValue& where, const std::string& form) {
    UErrorCode status = U_ZERO_ERROR;
    if (form == "NFC") normalizer_ = icu::Normalizer2::getNFCInstance(status);
    else if (form == "NFD") normalizer_ = icu::Normalizer2::getNFDInstance(status);
    else if (form == "NFKC") normalizer_ = icu::Normalizer2::getNFKCInstance(status);
    else normalizer_ = icu::Normalizer2::getNFKDInstance(status);
    if (U_FAILURE(status)) where.fail(std::string("ICU cannot provide ") + form + ": " + u_errorName(status));
  }

  void apply(std::string& text) const override {
    if (is_ascii(text)) return;  // ASCII is in every normalization form
    UErrorCode status = U_ZERO_ERROR;
    if (normalizer_->isNormalizedUTF8(text, status) && U_SUCCESS(status)) return;
    std::string out;
    icu::StringByteSink<std::string> sink(&out, int32_t(text.size()));
    status = U_ZERO_ERROR;
    normalizer_->normalizeUTF8(0, text, sink, nullptr, status);
    if (U_FAILURE(status)) throw InvalidArgument(std::string("Unicode normalization failed: ") + u_errorName(status));
    text = std::move(out);
  }

 private:
  const icu::Normalizer2* normalizer_ = nullptr;  // owned by ICU
};

}  // namespace

std::unique_ptr<const TextNormalizer> TextNormalizer::from_json(const JsonValue& value) {
  if (value.is_null()) return nullptr;
  const std::string type = value.at("type").as_string();
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD")
    return std::make_unique<UnicodeForm>(value, type);
  if (type == "Sequence") return sequence_from_json<TextNormalizer, std::string>(value.at("normalizers"));
  value.at("type").fail("normalizer type '" + type +
                        "' is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence, or null)");
}

}  // namespace lrem
