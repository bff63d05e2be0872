#include "lrem/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <random>

#include "lrem/error.h"
#include "test_support.h"

namespace lrem {
namespace {

std::string le64(uint64_t n) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out;
}

// A safetensors file from a header text and a data section, with the header length taken
// from the text unless `declared_length` overrides it.
std::string file_bytes(const std::string& header, const std::string& data,
                       std::optional<uint64_t> declared_length = std::nullopt) {
  return le64(declared_length.value_or(header.size())) + header + data;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Opening `bytes` as a file must throw a FormatError that names the file and contains
// every `needle` (tensor name, problem).
void expect_corrupt(const std::string& bytes, const std::vector<std::string>& needles) {
  testing::TempDir tmp;
  const std::string path = tmp.file("corrupt.safetensors");
  write_bytes(path, bytes);
  try {
    SafetensorsFile file(path);
    FAIL() << "accepted a corrupt file";
  } catch (const FormatError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    for (const std::string& needle : needles) EXPECT_NE(message.find(needle), std::string::npos) << message;
  }
  // The pure parser agrees on a heap buffer of exactly the file's size.
  std::vector<uint8_t> buffer(bytes.begin(), bytes.end());
  EXPECT_THROW(parse_safetensors_header(buffer.data(), buffer.size(), "buffer"), FormatError);
}

const std::string kGoodTensor = R"("w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";

TEST(Safetensors, DTypeNamesAndSizes) {
  const std::pair<DType, size_t> expected[] = {{DType::F32, 4}, {DType::F16, 2}, {DType::BF16, 2}, {DType::F64, 8},
                                               {DType::I64, 8}, {DType::I32, 4}, {DType::I16, 2},  {DType::I8, 1},
                                               {DType::U8, 1},  {DType::BOOL, 1}};
  for (const auto& [dtype, size] : expected) {
    EXPECT_EQ(dtype_size(dtype), size) << dtype_name(dtype);
    EXPECT_EQ(dtype_from_name(dtype_name(dtype)), dtype);
  }
  EXPECT_FALSE(dtype_from_name("F8_E4M3").has_value());
}

TEST(Safetensors, RoundTripsEveryDTypeBitForBit) {
  testing::TempDir tmp;
  std::mt19937 rng(42);
  const DType dtypes[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64,
                          DType::I32, DType::I16, DType::I8,   DType::U8,  DType::BOOL};
  std::vector<std::string> payloads;
  std::vector<TensorView> views;
  for (DType dtype : dtypes) {
    const std::vector<int64_t> shape = {3, 5};
    std::string bytes(15 * dtype_size(dtype), '\0');
    for (char& b : bytes) b = char(dtype == DType::BOOL ? rng() % 2 : rng());
    payloads.push_back(bytes);
  }
  for (size_t i = 0; i < std::size(dtypes); ++i)
    views.push_back({std::string("t_") + dtype_name(dtypes[i]), dtypes[i], {3, 5}, payloads[i].data(), payloads[i].size()});
  views.push_back({"scalar", DType::F32, {}, payloads[0].data(), 4});
  views.push_back({"empty", DType::F16, {0, 7}, nullptr, 0});

  const std::string path = tmp.file("all.safetensors");
  write_safetensors(path, views, {{"format", "pt"}, {"note", "round trip"}});

  const SafetensorsFile file(path);
  EXPECT_EQ(file.header().metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "round trip"}}));
  EXPECT_EQ(file.header().data_offset % 8, 0u) << "header must be padded to 8 bytes";
  ASSERT_EQ(file.header().tensors.size(), views.size());
  for (const TensorView& v : views) {
    const TensorInfo* info = file.header().find(v.name);
    ASSERT_NE(info, nullptr) << v.name;
    EXPECT_EQ(info->dtype, v.dtype);
    EXPECT_EQ(info->shape, v.shape);
    ASSERT_EQ(info->nbytes(), v.nbytes);
    if (v.nbytes) EXPECT_EQ(std::memcmp(file.data(*info), v.data, v.nbytes), 0) << v.name;
  }
  // Laid out in name order, as the header lists them.
  for (size_t i = 1; i < file.header().tensors.size(); ++i)
    EXPECT_LT(file.header().tensors[i - 1].name, file.header().tensors[i].name);
}

TEST(Safetensors, WritesTheReferenceLayout) {
  testing::TempDir tmp;
  const float values[] = {1.0f, 2.0f};
  write_safetensors(tmp.file("a.safetensors"), {{"a", DType::F32, {2}, values, 8}}, {{"format", "pt"}});
  std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  EXPECT_EQ(read_bytes(tmp.file("a.safetensors")),
            file_bytes(header, std::string(reinterpret_cast<const char*>(values), 8)));
}

TEST(Safetensors, ReadsTheStories260KFixture) {
  const std::string dir = testing::fixture("stories260K");
  if (dir.empty()) GTEST_SKIP() << "fixture stories260K absent";
  const SafetensorsFile file(dir + "/model.safetensors");
  EXPECT_EQ(file.header().tensors.size(), 1u + 5 * 9 + 1);  // embeddings, 5 layers, final norm; tied head
  const TensorInfo* embed = file.header().find("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, DType::F32);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(file.header().metadata.at("format"), "pt");
}

TEST(Safetensors, RejectsBadWriterInput) {
  testing::TempDir tmp;
  const float v[4] = {};
  EXPECT_THROW(write_safetensors(tmp.file("x"), {{"a", DType::F32, {2}, v, 12}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(tmp.file("x"), {{"a", DType::F32, {-1}, v, 0}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(tmp.file("x"), {{"a", DType::F32, {1}, v, 4}, {"a", DType::F32, {1}, v, 4}}),
               InvalidArgument);
  EXPECT_THROW(write_safetensors(tmp.file("x"), {{"__metadata__", DType::F32, {1}, v, 4}}), InvalidArgument);
  EXPECT_FALSE(std::ifstream(tmp.file("x")).good()) << "nothing may be written for rejected input";
}

// --- one test per kind of corruption --------------------------------------------------------

TEST(SafetensorsCorrupt, EmptyFile) { expect_corrupt("", {"empty"}); }

TEST(SafetensorsCorrupt, ShorterThanTheLengthPrefix) { expect_corrupt(std::string("\x10\0\0", 3), {"3 bytes"}); }

TEST(SafetensorsCorrupt, HeaderLengthLargerThanFile) {
  expect_corrupt(file_bytes("{" + kGoodTensor + "}", std::string(16, '\0'), 1000), {"header length 1000"});
}

TEST(SafetensorsCorrupt, HeaderLengthAbsurd) {
  expect_corrupt(file_bytes("{}", "", uint64_t(1) << 63), {"9223372036854775808", "limit"});
}

TEST(SafetensorsCorrupt, HeaderNotJson) { expect_corrupt(file_bytes("{\"w\": {dtype", ""), {"not valid JSON"}); }

TEST(SafetensorsCorrupt, HeaderNotAnObject) { expect_corrupt(file_bytes("[1, 2, 3]", ""), {"JSON object"}); }

TEST(SafetensorsCorrupt, UnknownDType) {
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F12","shape":[2],"data_offsets":[0,3]}})", std::string(3, '\0')),
                 {"'w'", "F12"});
}

TEST(SafetensorsCorrupt, NegativeShape) {
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}})", std::string(16, '\0')),
                 {"'w'", "non-negative"});
}

TEST(SafetensorsCorrupt, ShapeDoesNotMatchOffsets) {
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", std::string(16, '\0')),
                 {"'w'", "needs 24"});
}

TEST(SafetensorsCorrupt, OffsetsBeyondTheData) {
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[16,48]}})", std::string(16, '\0')),
                 {"'w'", "beyond the data section"});
}

TEST(SafetensorsCorrupt, OverlappingTensors) {
  expect_corrupt(file_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                            R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                            std::string(24, '\0')),
                 {"'b'", "overlap", "'a'"});
}

TEST(SafetensorsCorrupt, BeginAfterEnd) {
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[16,8]}})", std::string(16, '\0')),
                 {"'w'", "begin > end"});
}

TEST(SafetensorsCorrupt, TruncatedDataSection) {
  testing::TempDir tmp;
  const float v[6] = {1, 2, 3, 4, 5, 6};
  write_safetensors(tmp.file("ok.safetensors"), {{"w", DType::F32, {2, 3}, v, sizeof v}});
  std::string bytes = read_bytes(tmp.file("ok.safetensors"));
  bytes.resize(bytes.size() - 5);
  expect_corrupt(bytes, {"'w'", "truncated"});
}

TEST(SafetensorsCorrupt, NumelOverflow) {
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}})", ""),
                 {"'w'", "overflow"});
  // The element count fits in 64 bits but the byte count does not.
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})", ""),
                 {"'w'", "overflow"});
}

TEST(SafetensorsCorrupt, MetadataNotStrings) {
  expect_corrupt(file_bytes(R"({"__metadata__":{"format":1},)" + kGoodTensor + "}", std::string(16, '\0')),
                 {"__metadata__", "format"});
  expect_corrupt(file_bytes(R"({"__metadata__":["pt"],)" + kGoodTensor + "}", std::string(16, '\0')),
                 {"__metadata__"});
}

TEST(SafetensorsCorrupt, DuplicateTensorName) {
  expect_corrupt(file_bytes("{" + kGoodTensor + "," + kGoodTensor + "}", std::string(16, '\0')), {"'w'", "twice"});
}

TEST(SafetensorsCorrupt, HoleInTheDataSection) {
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", std::string(16, '\0')),
                 {"'w'", "hole"});
}

TEST(SafetensorsCorrupt, TrailingBytes) {
  expect_corrupt(file_bytes("{" + kGoodTensor + "}", std::string(20, '\0')), {"4 trailing bytes"});
}

TEST(SafetensorsCorrupt, MalformedEntry) {
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", std::string(16, '\0')),
                 {"'w'", "data_offsets"});
  expect_corrupt(file_bytes(R"({"w":{"shape":[4],"data_offsets":[0,16]}})", std::string(16, '\0')), {"'w'", "dtype"});
  expect_corrupt(file_bytes(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,16]}})", std::string(16, '\0')),
                 {"'w'", "shape"});
  expect_corrupt(file_bytes(R"({"w":"F32"})", ""), {"'w'", "object"});
}

TEST(Safetensors, MissingFileIsAnIoError) {
  testing::TempDir tmp;
  EXPECT_THROW(SafetensorsFile(tmp.file("absent.safetensors")), IoError);
  EXPECT_THROW(SafetensorsFile(tmp.path()), IoError);
}

}  // namespace
}  // namespace lrem
