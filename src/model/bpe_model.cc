#include "model/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

namespace lrem {

namespace {

// Hugging Face's cache keeps 10,000 words; a larger one costs little and helps long texts.
constexpr size_t kCacheWords = 1 << 16;
constexpr size_t kCacheMaxWordBytes = 256;

size_t utf8_char_length(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

uint64_t pair_key(int left, int right) { return uint64_t(uint32_t(left)) << 32 | uint32_t(right); }

// A null or empty string field; anything else means a feature lrem does not implement.
void refuse_unless_empty(const JsonValue& model, const char* key) {
  if (auto value = model.find(key); value && !value->is_null() && !value->as_string().empty())
    value->fail(std::string(key) + " is not supported (expected null or \"\")");
}

}  // namespace

struct BpeModel::CacheEntry {
  std::string word;
  std::vector<int> ids;
};

BpeModel::BpeModel(const JsonValue& model) {
  const JsonValue type = model.at("type");
  if (type.as_string() != "BPE")
    type.fail("model type '" + type.as_string() + "' is not supported (supported: BPE)");
  if (auto dropout = model.find("dropout"); dropout && !dropout->is_null() && dropout->as_double() != 0.0)
    dropout->fail("BPE dropout is not supported (expected null or 0)");
  refuse_unless_empty(model, "continuing_subword_prefix");
  refuse_unless_empty(model, "end_of_word_suffix");
  fuse_unk_ = model.get_bool("fuse_unk", false);
  byte_fallback_ = model.get_bool("byte_fallback", false);
  ignore_merges_ = model.get_bool("ignore_merges", false);

  const auto vocab = model.at("vocab").members();
  int64_t max_id = -1;
  for (const auto& entry : vocab) max_id = std::max(max_id, entry.second.as_int(0, INT32_MAX - 1));
  tokens_by_id_.resize(size_t(max_id + 1));
  has_id_.resize(tokens_by_id_.size());
  ids_.reserve(vocab.size());
  for (const auto& [token, value] : vocab) {
    const int id = int(value.as_int());
    if (has_id_[id]) value.fail("id " + std::to_string(id) + " is given to two tokens");
    has_id_[id] = true;
    tokens_by_id_[id] = token;
    ids_.emplace(tokens_by_id_[id], id);
  }
  size_ = int(vocab.size());

  if (auto unk = model.find("unk_token"); unk && !unk->is_null()) {
    unk_id_ = token_to_id(unk->as_string());
    if (unk_id_ < 0) unk->fail("unk_token '" + unk->as_string() + "' is not in the vocabulary");
  }
  byte_ids_.assign(256, -1);
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", byte);
    byte_ids_[byte] = token_to_id(name);
  }

  const std::vector<JsonValue> merges = model.at("merges").elements();
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const JsonValue& merge = merges[rank];
    std::string left, right;
    if (merge.is_string()) {
      const std::string text = merge.as_string();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos)
        merge.fail("expected a merge \"left right\" with exactly one space, got \"" + text + "\"");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else {
      if (merge.size() != 2) merge.expected("a pair [left, right]");
      left = merge[0].as_string();
      right = merge[1].as_string();
    }
    const int left_id = token_to_id(left), right_id = token_to_id(right), new_id = token_to_id(left + right);
    for (const auto& [part, id] : {std::pair{&left, left_id}, {&right, right_id}})
      if (id < 0) merge.fail("merge part '" + *part + "' is not in the vocabulary");
    if (new_id < 0) merge.fail("merge result '" + left + right + "' is not in the vocabulary");
    merges_[pair_key(left_id, right_id)] = Merge{int(rank), new_id};  // a repeated merge: the last rank wins, as in HF
  }
}

BpeModel::~BpeModel() = default;

int BpeModel::token_to_id(std::string_view token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int id) const {
  return id >= 0 && id < end_id() && has_id_[id] ? &tokens_by_id_[id] : nullptr;
}

const BpeModel::Merge* BpeModel::find_merge(int left, int right) const {
  const auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::encode_word(std::string_view word, std::vector<int>& ids) const {
  if (ignore_merges_) {
    if (const int id = token_to_id(word); id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  {
    std::shared_lock lock(cache_mutex_);
    if (const auto it = cache_.find(word); it != cache_.end()) {
      ids.insert(ids.end(), it->second->ids.begin(), it->second->ids.end());
      return;
    }
  }
  const size_t first = ids.size();
  merge_word(word, ids);
  if (word.size() > kCacheMaxWordBytes) return;
  auto entry = std::make_unique<CacheEntry>(CacheEntry{std::string(word), std::vector<int>(ids.begin() + first, ids.end())});
  std::unique_lock lock(cache_mutex_);
  if (cache_.size() < kCacheWords) cache_.emplace(entry->word, std::move(entry));
}

void BpeModel::merge_word(std::string_view word, std::vector<int>& ids) const {
  struct Symbol {
    int id;
    int prev, next;
    size_t len;  // bytes of the word it covers; 0 once merged into its left neighbour
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](int id, size_t len) {
    const int index = int(symbols.size());
    symbols.push_back({id, index - 1, -1, len});
    if (index > 0) symbols[index - 1].next = index;
  };

  // Characters to ids; unknown ones become bytes (byte_fallback) or unk (fused if asked).
  int pending_unk_len = 0;
  for (size_t i = 0; i < word.size();) {
    const size_t len = std::min(utf8_char_length(static_cast<unsigned char>(word[i])), word.size() - i);
    const std::string_view character = word.substr(i, len);
    i += len;
    if (const int id = token_to_id(character); id >= 0) {
      if (pending_unk_len) add(unk_id_, size_t(pending_unk_len));
      pending_unk_len = 0;
      add(id, len);
      continue;
    }
    if (byte_fallback_ && std::all_of(character.begin(), character.end(),
                                      [&](char c) { return byte_ids_[static_cast<unsigned char>(c)] >= 0; })) {
      for (const char c : character) add(byte_ids_[static_cast<unsigned char>(c)], 1);
      continue;
    }
    if (unk_id_ < 0) continue;  // no unk token: the character is dropped, as in Hugging Face
    if (pending_unk_len && !fuse_unk_) {
      add(unk_id_, size_t(pending_unk_len));
      pending_unk_len = 0;
    }
    pending_unk_len += int(len);
  }
  if (pending_unk_len) add(unk_id_, size_t(pending_unk_len));

  // Best (lowest) rank first, leftmost among equal ranks.
  struct Candidate {
    int rank, pos, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Candidate> heap;
  auto consider = [&](int pos) {
    const int next = symbols[pos].next;
    if (next < 0) return;
    if (const Merge* merge = find_merge(symbols[pos].id, symbols[next].id)) {
      heap.push_back({merge->rank, pos, merge->new_id});
      std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
  };
  for (int pos = 0; pos + 1 < int(symbols.size()); ++pos) consider(pos);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& left = symbols[top.pos];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const Merge* merge = find_merge(left.id, right.id);
    if (!merge || merge->new_id != top.new_id) continue;  // stale: a neighbour changed since
    left.id = top.new_id;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  for (const Symbol& symbol : symbols)
    if (symbol.len > 0) ids.push_back(symbol.id);
}

}  // namespace lrem
