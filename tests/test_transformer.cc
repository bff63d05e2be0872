#include "model/transformer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "lrem/error.h"
#include "tiny_llama.h"

namespace lrem {
namespace {

using testing::random_ids;
using testing::tiny_config;
using testing::tiny_model;
using testing::tiny_variants;

// One unpadded sequence through the Hugging Face Llama definition, written as plainly as
// possible and sharing nothing with transformer.cc: per-head loops, kv head = query head /
// group size (HF's repeat_kv), RoPE angles in double, an explicit causal loop.
at::Tensor reference_logits(const ModelConfig& c, const std::map<std::string, at::Tensor>& w, const at::Tensor& ids) {
  const int64_t T = ids.numel(), d = c.effective_head_dim(), group = c.num_attention_heads / c.num_key_value_heads;
  auto norm = [&](const at::Tensor& x, const at::Tensor& weight) {
    return weight * x / at::sqrt((x * x).mean(-1, true) + c.rms_norm_eps);
  };
  auto proj = [&](const at::Tensor& x, const std::string& name) {
    at::Tensor y = x.matmul(w.at(name + ".weight").t());
    return w.count(name + ".bias") ? y + w.at(name + ".bias") : y;
  };
  at::Tensor cos = at::empty({T, d}), sin = at::empty({T, d});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < d / 2; ++i) {
      const double angle = t * std::pow(c.rope_theta, -2.0 * i / d);
      cos[t][i] = cos[t][i + d / 2] = std::cos(angle);
      sin[t][i] = sin[t][i + d / 2] = std::sin(angle);
    }
  auto rope = [&](const at::Tensor& x) {
    const at::Tensor rotated = at::cat({-x.narrow(1, d / 2, d / 2), x.narrow(1, 0, d / 2)}, 1);
    return x * cos + rotated * sin;
  };
  at::Tensor x = w.at("model.embed_tokens.weight").index_select(0, ids.reshape(-1));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const at::Tensor h = norm(x, w.at(p + "input_layernorm.weight"));
    const at::Tensor q = proj(h, p + "self_attn.q_proj"), k = proj(h, p + "self_attn.k_proj"),
                     v = proj(h, p + "self_attn.v_proj");
    std::vector<at::Tensor> heads;
    for (int64_t head = 0; head < c.num_attention_heads; ++head) {
      const int64_t kv = head / group;
      at::Tensor qh = q.narrow(1, head * d, d), kh = k.narrow(1, kv * d, d);
      if (c.has_qk_norm()) {  // Qwen3: RMSNorm over each head before RoPE
        qh = norm(qh, w.at(p + "self_attn.q_norm.weight"));
        kh = norm(kh, w.at(p + "self_attn.k_norm.weight"));
      }
      qh = rope(qh);
      kh = rope(kh);
      at::Tensor scores = qh.matmul(kh.t()) / std::sqrt(double(d));
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = i + 1; j < T; ++j) scores[i][j] = -INFINITY;
      heads.push_back(at::softmax(scores, -1).matmul(v.narrow(1, kv * d, d)));
    }
    x = x + proj(at::cat(heads, 1), p + "self_attn.o_proj");
    const at::Tensor h2 = norm(x, w.at(p + "post_attention_layernorm.weight"));
    const at::Tensor gate = proj(h2, p + "mlp.gate_proj");
    x = x + proj(gate * at::sigmoid(gate) * proj(h2, p + "mlp.up_proj"), p + "mlp.down_proj");
  }
  const std::string head = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  return norm(x, w.at("model.norm.weight")).matmul(w.at(head).t());
}

at::Tensor positions(int64_t rows, int64_t n, int64_t start = 0) {
  return at::arange(start, start + n, at::kLong).unsqueeze(0).expand({rows, n}).contiguous();
}

// One sequence of token ids as a [1, n] tensor.
at::Tensor row(const std::vector<int64_t>& ids) { return at::tensor(ids, at::kLong).unsqueeze(0); }

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(Transformer, MatchesPlainReferenceImplementation) {
  for (const auto& config : tiny_variants()) {
    const Transformer model = tiny_model(config);
    const at::Tensor ids = random_ids(1, 9, config.vocab_size, 1);
    const at::Tensor logits = model.forward(ids, positions(1, 9), {}, nullptr).logits[0];
    const at::Tensor expected = reference_logits(config, model.parameters(), ids);
    EXPECT_GT(expected.std().item<double>(), 0.5);  // the comparison is not between near-constants
    EXPECT_LT(max_diff(logits, expected), 1e-4) << config.model_type << " attention_bias=" << config.attention_bias
                                                << " tied=" << config.tie_word_embeddings;
  }
}

TEST(Transformer, IncrementalDecodingWithCacheEqualsFullForward) {
  for (const auto& config : tiny_variants()) {
    const Transformer model = tiny_model(config);
    const int64_t B = 2, T = 12;
    const at::Tensor ids = random_ids(B, T, config.vocab_size, 2);
    const at::Tensor full = model.forward(ids, positions(B, T), {}, nullptr).logits;

    KVCache cache(config, B, T, model.options());
    int64_t start = 0;
    for (int64_t chunk : {5, 1, 3, 1, 2}) {
      const auto out = model.forward(ids.narrow(1, start, chunk), positions(B, chunk, start), {}, &cache);
      EXPECT_LT(max_diff(out.logits, full.narrow(1, start, chunk)), 1e-5) << "chunk at " << start;
      start += chunk;
      EXPECT_EQ(cache.length(), start);
    }
  }
}

TEST(Transformer, LeftPaddedBatchEqualsEachSequenceAlone) {
  for (const auto& config : tiny_variants()) {
    const Transformer model = tiny_model(config);
    const std::vector<int64_t> lengths = {7, 4, 1};
    const int64_t B = 3, T = 7;
    const at::Tensor seqs = random_ids(B, T, config.vocab_size, 3);
    // Left padding: row b holds its last lengths[b] tokens; pad id 5 with position 0 (HF's
    // cumsum(mask) - 1 with padding clamped), mask 0.
    at::Tensor ids = at::full({B, T}, 5, at::kLong), pos = at::zeros({B, T}, at::kLong), mask = at::zeros({B, T}, at::kLong);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = lengths[b];
      ids[b].narrow(0, T - n, n).copy_(seqs[b].narrow(0, 0, n));
      pos[b].narrow(0, T - n, n).copy_(at::arange(n));
      mask[b].narrow(0, T - n, n).fill_(1);
    }
    const auto batch = model.forward(ids, pos, mask, nullptr);
    EXPECT_TRUE(at::isfinite(batch.hidden).all().item<bool>()) << "fully masked padding rows must not give NaN";
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = lengths[b];
      const auto alone = model.forward(seqs[b].narrow(0, 0, n).unsqueeze(0), positions(1, n), {}, nullptr);
      EXPECT_LT(max_diff(batch.hidden[b].narrow(0, T - n, n), alone.hidden[0]), 1e-5) << "row " << b;
      EXPECT_LT(max_diff(batch.logits[b].narrow(0, T - n, n), alone.logits[0]), 1e-5) << "row " << b;
    }
  }
}

TEST(Transformer, ResizeVocabKeepsOldRowsAndAddsTheMean) {
  for (const auto& config : tiny_variants()) {
    Transformer model = tiny_model(config);
    const std::vector<std::string> grown =
        config.tie_word_embeddings ? std::vector<std::string>{"model.embed_tokens.weight"}
                                   : std::vector<std::string>{"model.embed_tokens.weight", "lm_head.weight"};
    std::map<std::string, at::Tensor> before;
    for (const auto& name : grown) before[name] = model.parameters().at(name).clone();

    model.resize_vocab(53);
    EXPECT_EQ(model.config().vocab_size, 53);
    for (const auto& name : grown) {
      const at::Tensor w = model.parameters().at(name);
      ASSERT_EQ(w.sizes(), (at::IntArrayRef{53, 32})) << name;
      EXPECT_TRUE(at::equal(w.narrow(0, 0, 50), before[name])) << name;
      const at::Tensor mean = before[name].mean(0);
      for (int64_t row = 50; row < 53; ++row) EXPECT_LT(max_diff(w[row], mean), 1e-6) << name;
    }
    const auto out = model.forward(row({52, 1, 51}), positions(1, 3), {}, nullptr);
    EXPECT_EQ(out.logits.size(2), 53);
    EXPECT_THROW(model.resize_vocab(40), InvalidArgument);
  }
}

TEST(Transformer, CacheOverflowAndBadInputsThrow) {
  const ModelConfig config = tiny_config();
  const Transformer model = tiny_model(config);
  KVCache cache(config, 1, 4, model.options());
  model.forward(random_ids(1, 3, 50, 4), positions(1, 3), {}, &cache);
  EXPECT_THROW(model.forward(random_ids(1, 2, 50, 5), positions(1, 2, 3), {}, &cache), LimitExceeded);
  EXPECT_EQ(cache.length(), 3);
  EXPECT_THROW(cache.advance(2), LimitExceeded);
  model.forward(random_ids(1, 1, 50, 6), positions(1, 1, 3), {}, &cache);  // the last slot still works
  EXPECT_EQ(cache.length(), 4);

  EXPECT_THROW(model.forward(row({3, 50}), positions(1, 2), {}, nullptr), InvalidArgument);
  EXPECT_THROW(model.forward(row({3, 4}), positions(1, 2, 63), {}, nullptr), LimitExceeded);
  EXPECT_THROW(model.forward(row({3, 4}), positions(1, 2), at::ones({1, 3}), nullptr),
               InvalidArgument);
  EXPECT_THROW(KVCache(config, 0, 4, model.options()), InvalidArgument);
  EXPECT_THROW(Transformer(config).forward(row({3}), positions(1, 1), {}, nullptr), InvalidArgument);
}

TEST(Transformer, ExpandPrefixCopiesRowZeroIntoEveryRow) {
  const ModelConfig config = tiny_config();
  const Transformer model = tiny_model(config);
  const at::Tensor prefix = random_ids(1, 5, 50, 8), suffix = random_ids(3, 2, 50, 9);
  KVCache one(config, 1, 5, model.options());
  model.forward(prefix, positions(1, 5), {}, &one);
  KVCache many = one.expand_prefix(3, 7);
  EXPECT_EQ(many.batch(), 3);
  EXPECT_EQ(many.length(), 5);
  const at::Tensor logits = model.forward(suffix, positions(3, 2, 5), {}, &many).logits;
  const at::Tensor full = model.forward(at::cat({prefix.expand({3, 5}), suffix}, 1), positions(3, 7), {}, nullptr).logits;
  EXPECT_LT(max_diff(logits, full.narrow(1, 5, 2)), 1e-5);

  many.select_rows(at::tensor({2, 0}, at::kLong));
  EXPECT_EQ(many.batch(), 2);
  EXPECT_THROW(many.select_rows(at::tensor({3}, at::kLong)), InvalidArgument);
}

TEST(Transformer, GradientsReachEveryParameter) {
  for (const auto& config : tiny_variants()) {
    Transformer model = tiny_model(config);
    model.set_requires_grad(true);
    const at::Tensor ids = random_ids(2, 6, config.vocab_size, 10);
    const at::Tensor logits = model.forward(ids, positions(2, 6), at::ones({2, 6}, at::kLong), nullptr).logits;
    const at::Tensor loss = at::cross_entropy_loss(logits.narrow(1, 0, 5).reshape({-1, config.vocab_size}),
                                                   ids.narrow(1, 1, 5).reshape(-1));
    loss.backward();
    for (const auto& [name, param] : model.parameters()) {
      ASSERT_TRUE(param.grad().defined()) << name;
      EXPECT_TRUE(at::isfinite(param.grad()).all().item<bool>()) << name;
      EXPECT_GT(param.grad().abs().sum().item<double>(), 0) << name;
    }
  }
}

TEST(Transformer, HalfPrecisionTracksFloat32) {
  for (const auto& config : tiny_variants()) {
    const Transformer reference = tiny_model(config);
    Transformer half(config, at::kBFloat16);
    half.load_parameters(reference.parameters(), "tiny_model");
    EXPECT_EQ(half.parameters().at("model.norm.weight").scalar_type(), at::kBFloat16);
    const at::Tensor ids = random_ids(2, 6, config.vocab_size, 12);
    KVCache cache(config, 2, 6, half.options());
    half.forward(ids.narrow(1, 0, 4), positions(2, 4), {}, &cache);
    const at::Tensor logits = half.forward(ids.narrow(1, 4, 2), positions(2, 2, 4), {}, &cache).logits.to(at::kFloat);
    const at::Tensor expected = reference.forward(ids, positions(2, 6), {}, nullptr).logits.narrow(1, 4, 2);
    EXPECT_GT(at::cosine_similarity(logits.reshape(-1), expected.reshape(-1), 0).item<double>(), 0.99);
  }
}

TEST(Transformer, InitRandomIsDeterministicPerSeed) {
  const ModelConfig config = tiny_config(true, false);
  Transformer a(config), b(config), c(config);
  a.init_random(1);
  b.init_random(1);
  c.init_random(2);
  for (const auto& [name, tensor] : a.parameters()) {
    EXPECT_TRUE(at::equal(tensor, b.parameters().at(name))) << name;
    if (name.find("norm") == std::string::npos && name.find("bias") == std::string::npos) {
      EXPECT_FALSE(at::equal(tensor, c.parameters().at(name))) << name;
      EXPECT_NEAR(tensor.std().item<double>(), 0.02, 0.005) << name;
    }
  }
}

TEST(Transformer, LoadParametersRejectsMissingAndMisshapedTensors) {
  const ModelConfig config = tiny_config(false, false);
  const Transformer source = tiny_model(config);
  Transformer target(config);
  target.load_parameters(source.parameters(), "good.safetensors");
  const at::Tensor ids = random_ids(1, 4, 50, 11);
  EXPECT_TRUE(at::equal(target.forward(ids, positions(1, 4), {}, nullptr).logits,
                        source.forward(ids, positions(1, 4), {}, nullptr).logits));

  auto expect_error = [&](const std::map<std::string, at::Tensor>& tensors, const std::string& culprit) {
    try {
      target.load_parameters(tensors, "bad.safetensors");
      ADD_FAILURE() << "no error for " << culprit;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(culprit), std::string::npos) << e.what();
    }
  };
  auto missing = source.parameters();
  missing.erase("model.layers.1.mlp.up_proj.weight");
  expect_error(missing, "model.layers.1.mlp.up_proj.weight");
  auto misshaped = source.parameters();
  misshaped["model.norm.weight"] = at::ones({31});
  expect_error(misshaped, "model.norm.weight");
  auto unexpected = source.parameters();
  unexpected["model.layers.2.mlp.up_proj.weight"] = at::ones({48, 32});
  expect_error(unexpected, "model.layers.2.mlp.up_proj.weight");
}

}  // namespace
}  // namespace lrem

namespace lrem {
namespace {

LoraSpec every_projection(std::vector<int64_t> token_ids) {
  LoraSpec spec;
  spec.r = 4;
  spec.alpha = 8;
  spec.target_modules = LoraSpec::all_modules();
  spec.token_ids = std::move(token_ids);
  return spec;
}

// A tiny model with an adapter whose every tensor moves the output (B and the token rows off
// their starting values).
Transformer adapted(const ModelConfig& config, const LoraSpec& spec) {
  Transformer model = tiny_model(config);
  Transformer fresh = model;
  fresh.attach_lora(spec, {}, 3);
  std::map<std::string, at::Tensor> tensors;
  int64_t i = 0;
  for (const auto& [name, t] : fresh.lora_parameters())
    tensors[name] = t.detach() + 0.1 * at::sin(at::arange(t.numel()).to(at::kFloat) + double(++i)).view(t.sizes());
  model.attach_lora(spec, tensors, 0);
  return model;
}

ForwardOutput run(const Transformer& model, const at::Tensor& ids) {
  at::NoGradGuard no_grad;
  return model.forward(ids, at::arange(ids.size(1)).repeat({ids.size(0), 1}), {}, nullptr);
}

TEST(TransformerLora, AFreshAdapterLeavesTheModelAsItWas) {
  for (const ModelConfig& config : tiny_variants()) {
    const Transformer base = tiny_model(config);
    Transformer model = base;
    model.attach_lora(every_projection({4, 9}), {}, 1);
    const at::Tensor ids = random_ids(2, 7, config.vocab_size, 5).index_fill_(1, at::tensor({int64_t(3)}), 9);
    const ForwardOutput a = run(model, ids), b = run(base, ids);
    EXPECT_TRUE(at::equal(a.hidden, b.hidden));
    EXPECT_TRUE(at::allclose(a.logits, b.logits, 1e-5, 1e-6));  // head rows come from their own product
  }
}

TEST(TransformerLora, MergedWeightsComputeWhatTheAdapterDid) {
  for (const ModelConfig& config : tiny_variants()) {
    Transformer model = adapted(config, every_projection({4, 9}));
    const Transformer base = tiny_model(config);
    const at::Tensor ids = random_ids(2, 7, config.vocab_size, 5).index_fill_(1, at::tensor({int64_t(3)}), 9);
    const ForwardOutput with_adapter = run(model, ids);
    EXPECT_FALSE(at::allclose(with_adapter.logits, run(base, ids).logits, 1e-3, 1e-3));  // the adapter matters
    const Transformer copy = model;  // keeps the adapter: merging replaces tensors, never writes into them
    model.merge_lora();
    EXPECT_EQ(model.lora(), nullptr);
    EXPECT_TRUE(model.lora_parameters().empty());
    const ForwardOutput merged = run(model, ids);
    EXPECT_TRUE(at::allclose(merged.logits, with_adapter.logits, 1e-4, 1e-4))
        << (merged.logits - with_adapter.logits).abs().max().item<float>();
    EXPECT_TRUE(at::allclose(merged.hidden, with_adapter.hidden, 1e-4, 1e-5));
    EXPECT_TRUE(at::equal(run(copy, ids).logits, with_adapter.logits));
    // Only the adapted projections and the chosen token rows changed.
    const at::Tensor embed = model.parameters().at("model.embed_tokens.weight");
    const at::Tensor base_embed = base.parameters().at("model.embed_tokens.weight");
    const at::Tensor changed_rows = (embed != base_embed).any(1).nonzero().view(-1);
    EXPECT_TRUE(at::equal(changed_rows, at::tensor({4, 9}, at::kLong)));
    EXPECT_TRUE(at::equal(model.parameters().at("model.norm.weight"), base.parameters().at("model.norm.weight")));
    EXPECT_FALSE(at::equal(model.parameters().at("model.layers.1.mlp.down_proj.weight"),
                           base.parameters().at("model.layers.1.mlp.down_proj.weight")));
  }
}

TEST(TransformerLora, OnlyTheAdapterAndTheTokenRowsReceiveGradients) {
  for (const ModelConfig& config : tiny_variants()) {
    Transformer model = tiny_model(config);
    model.set_requires_grad(false);
    model.attach_lora(every_projection({4, 9}), {}, 1);
    const at::Tensor ids = random_ids(2, 7, config.vocab_size, 5).index_fill_(1, at::tensor({int64_t(3)}), 9);
    const ForwardOutput out = model.forward(ids, at::arange(7).repeat({2, 1}), {}, nullptr);
    out.logits.pow(2).mean().backward();
    for (const auto& [name, p] : model.parameters()) EXPECT_FALSE(p.grad().defined()) << name;
    // B starts at zero, so A's first gradient is zero too; B's and the token rows' are not.
    for (const auto& [name, p] : model.lora_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << name;
      if (name.find("lora_A") == std::string::npos) EXPECT_GT(p.grad().abs().sum().item<float>(), 0) << name;
    }
    EXPECT_EQ(model.trainable_parameters().size(), model.lora_parameters().size());
  }
}

TEST(TransformerLora, RefusesWhatItCannotApply) {
  Transformer model = tiny_model(tiny_config());
  LoraSpec spec = every_projection({4});
  spec.target_modules = {"qkv_proj"};
  EXPECT_THROW(model.attach_lora(spec, {}, 0), FormatError);
  spec = every_projection({50});  // vocab 50
  EXPECT_THROW(model.attach_lora(spec, {}, 0), FormatError);
  spec = every_projection({4});
  EXPECT_THROW(model.attach_lora(spec, {{"model.layers.0.self_attn.q_proj.lora_A.weight", at::zeros({4, 32})}}, 0),
               FormatError);  // the other tensors are missing
}

// int8 weights (PyTorch's dynamic quantisation) on every variant, biases and the Qwen3 norms
// included: the final hidden states stay close to float32's, but not equal. Per-tensor int8
// weights and 7-bit activations add about 1% noise per projection, more where a few large
// activations set the step of a whole tensor, as in these large-weight models (0.987 at
// worst here); 0.98 (11 degrees) still separates a right computation from a wrong one, whose
// hidden states are unrelated (cosine near 0).
TEST(Transformer, Int8ProjectionsStayCloseToFloat32OnEveryVariant) {
  at::NoGradGuard no_grad;
  for (const ModelConfig& c : tiny_variants()) {
    const Transformer fp32 = tiny_model(c);
    Transformer int8 = fp32;
    int8.quantize_int8();
    EXPECT_TRUE(int8.int8());
    EXPECT_FALSE(fp32.int8()) << "a copy's int8 weights are its own";
    const at::Tensor ids = random_ids(2, 9, c.vocab_size, 5);
    const at::Tensor pos = at::arange(9, at::kLong).expand({2, 9});
    const ForwardOutput a = fp32.forward(ids, pos, {}, nullptr), b = int8.forward(ids, pos, {}, nullptr);
    const double cosine = at::cosine_similarity(a.hidden, b.hidden, -1).min().item<double>();
    EXPECT_GE(cosine, 0.98) << c.to_json();
    EXPECT_FALSE(at::allclose(a.hidden, b.hidden, 0, 1e-6)) << "int8 must actually change the arithmetic";
    EXPECT_EQ(b.logits.scalar_type(), at::kFloat);
  }
}

TEST(Transformer, Int8IsForInferenceOnFloat32ModelsOnly) {
  Transformer model = tiny_model(tiny_config());
  model.quantize_int8();
  EXPECT_THROW(model.set_requires_grad(true), InvalidArgument);
  LoraSpec spec;
  spec.target_modules = {"q_proj"};
  EXPECT_THROW(model.attach_lora(spec, {}, 0), InvalidArgument);
  model.resize_vocab(60);  // rebinds: the projections stay int8
  EXPECT_TRUE(model.int8());
  Transformer bf16(tiny_config(), at::kBFloat16);
  bf16.init_random(1);
  EXPECT_THROW(bf16.quantize_int8(), InvalidArgument);
}

}  // namespace
}  // namespace lrem
