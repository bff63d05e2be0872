// Builds the small tokenizer.json files of this folder from the Qwen2 fixture and records
// what Hugging Face's own `tokenizers` library (the official Node binding of the Rust crate)
// makes of a set of texts with each of them and with the fixture itself. lrem's tests
// compare against these files; they never run this script. Command (README.md here):
//
//   (mkdir -p /tmp/hfref && cd /tmp/hfref && npm install tokenizers@0.23.2) &&
//   NODE_PATH=/tmp/hfref/node_modules node tests/data/tokenizers/make_reference.js ../shared/fixtures
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const here = __dirname;
const main = require.main === module;  // else make_saved_reference.js borrows texts and reference()
const fixtures = main ? process.argv[2]
  : process.env.LREM_FIXTURES_DIR || path.join(here, '..', '..', '..', '..', 'shared', 'fixtures');
if (!fixtures) throw new Error('usage: make_reference.js <fixtures dir>');
const qwen2Path = path.join(fixtures, 'qwen2-bpe', 'tokenizer.json');
const qwen2 = JSON.parse(fs.readFileSync(qwen2Path, 'utf8'));

// --- small tokenizers ------------------------------------------------------------------
// The 256 byte-level characters and the results of Qwen2's first kMerges merges: a valid
// BPE vocabulary (each merge only uses earlier results), small enough to commit.
const kMerges = 500;
const byteChars = Object.keys(qwen2.model.vocab).filter((t) => qwen2.model.vocab[t] < 256);
const merges = qwen2.model.merges.slice(0, kMerges).map((m) => m.split(' '));
function byteLevelVocab(extra) {
  const vocab = {};
  for (const t of byteChars) vocab[t] = Object.keys(vocab).length;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  for (const t of extra) vocab[t] = Object.keys(vocab).length;
  return vocab;
}

// GPT-2's byte -> character table, to turn byte-level tokens back into text.
const byteOfChar = new Map();
{
  let next = 256;
  for (let b = 0; b < 256; ++b) {
    const self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    byteOfChar.set(String.fromCodePoint(self ? b : next++), b);
  }
}
function rawText(token) {
  const bytes = Buffer.from([...token].map((c) => byteOfChar.get(c)));
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : null;  // null: not valid UTF-8 alone
}

const llama3Regex =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const qwenSplit = qwen2.pre_tokenizer.pretokenizers[0];
const byteLevel = (prefix, regex) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: regex });
const added = (id, content, opts = {}) => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...opts,
});
function bpe(vocab, merges, opts = {}) {
  return {
    type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges, ...opts,
  };
}
function tokenizerJson(parts) {
  return { version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null,
    post_processor: null, decoder: null, ...parts };
}

const small = {};
{
  // Llama 3: its split regex, ignore_merges, <|begin_of_text|> through TemplateProcessing,
  // merges as pairs. Two words exist only as whole vocabulary entries (no merge builds
  // them), so ignore_merges shows.
  const vocab = byteLevelVocab(['Ġsneakers', 'Ġwaterproof']);
  const n = Object.keys(vocab).length;
  small.llama3 = tokenizerJson({
    added_tokens: [added(n, '<|begin_of_text|>'), added(n + 1, '<|end_of_text|>'), added(n + 2, '<|eot_id|>')],
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: llama3Regex }, behavior: 'Isolated', invert: false }, byteLevel(false, false)] },
    post_processor: { type: 'Sequence', processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      { type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [n], tokens: ['<|begin_of_text|>'] } } }] },
    decoder: byteLevel(true, true),
    model: bpe(vocab, merges, { ignore_merges: true }),
  });
}
{
  // GPT-2: ByteLevel pre-tokenizer with its own regex and a prefix space; "a b" merges;
  // a template that closes with <|endoftext|>.
  const vocab = byteLevelVocab([]);
  const n = Object.keys(vocab).length;
  small.gpt2 = tokenizerJson({
    added_tokens: [added(n, '<|endoftext|>')],
    pre_tokenizer: byteLevel(true, true),
    post_processor: { type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [n], tokens: ['<|endoftext|>'] } } },
    decoder: byteLevel(true, true),
    model: bpe(vocab, merges.map((m) => m.join(' '))),
  });
}
{
  // Added tokens of every kind, with NFC: `café` is a normalized, non-special token, so
  // "cafe\u0301" matches it after normalization.
  const vocab = byteLevelVocab([]);
  const n = Object.keys(vocab).length;
  small.added = tokenizerJson({
    added_tokens: [
      added(n, '<|endoftext|>'),
      added(n + 1, '<think>'),
      added(n + 2, '</think>', { rstrip: true }),
      added(n + 3, '<emb>', { lstrip: true }),
      added(n + 4, '[SKU]', { single_word: true, special: false }),
      added(n + 5, 'café', { normalized: true, special: false }),
      added(n + 6, '<em>', { lstrip: true, rstrip: true, special: false }),
    ],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [qwenSplit, byteLevel(false, false)] },
    post_processor: byteLevel(false, false),
    decoder: { type: 'Sequence', decoders: [byteLevel(false, false)] },
    model: bpe(vocab, merges),
  });
}
// Plain-text BPE (no byte-level alphabet): characters that are not in the vocabulary fall
// back to <0xAB> byte tokens, or to a fused <unk> in the variant without byte fallback.
for (const [name, opts] of [['byte_fallback', { byte_fallback: true, unk_token: '<unk>' }],
  ['unk', { unk_token: '<unk>', fuse_unk: true }]]) {
  const vocab = { '<unk>': 0 };
  for (let b = 0; b < 256; ++b) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = b + 1;
  const plain = (t) => rawText(t);
  for (const t of byteChars) if (plain(t) !== null && !(plain(t) in vocab)) vocab[plain(t)] = Object.keys(vocab).length;
  const plainMerges = [];
  for (const [a, b] of merges) {
    const [pa, pb, pr] = [plain(a), plain(b), plain(a + b)];
    if (pa === null || pb === null || pr === null || !(pa in vocab) || !(pb in vocab)) continue;
    if (!(pr in vocab)) vocab[pr] = Object.keys(vocab).length;
    plainMerges.push([pa, pb]);
  }
  small[name] = tokenizerJson({
    pre_tokenizer: { type: 'Split', pattern: { Regex: ' ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+' },
      behavior: 'Isolated', invert: false },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: bpe(vocab, plainMerges, opts),
  });
}

// --- texts -----------------------------------------------------------------------------
const texts = [
  '', ' ', '   ', '\n', '\t \n  \r\n',
  'wireless bluetooth headphones', 'Wireless Bluetooth Headphones', "men's running shoes size 10.5",
  "I'm looking for kids' rain boots, they're WATERPROOF & it's raining!", "DON'T WE'LL I'VE YOU'RE SHE'D",
  'iPhone 15 Pro Max 256GB case', 'usb-c cable 2m / 6.6ft (3-pack)', 'price: $1,299.99 -> 20% off!!!',
  '12345678901234567890', '4K HDR 120Hz', 'size:XL;color=blue|material:100%cotton',
  'red   dress    with\tpockets', 'two lines\nsecond line\n\nthird after blank', 'trailing spaces   ',
  '   leading spaces', 'windows\r\nnewlines\r\n',
  'café crème brûlée', 'cafe\u0301 cre\u0300me', 'A\u030a \u212b \u00c5', 'naïve façade jalapeño',
  'Größe 42 Straße', 'e\u0301\u0301 \u0301start with a combining mark',
  '无线蓝牙耳机 降噪', '日本語のテキストと漢字', '한국어 키보드', 'Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３',
  'emoji 🙂🚀 and family 👨‍👩‍👧 flag 🇯🇵', '❤️ love it ⭐⭐⭐⭐⭐',
  'مرحبا بالعالم', 'नमस्ते दुनिया', 'Привет, мир! Кроссовки 42 размер',
  'zero\u200bwidth\u200djoiner', 'nbsp\u00a0here and\u2003em space', 'replacement \ufffd char', 'null \u0000 byte',
  'supercalifragilisticexpialidocious' + 'x'.repeat(300),
  '<|endoftext|>', 'hello<|endoftext|>world', '<|im_start|>user\nfind shoes<|im_end|>\n<|im_start|>assistant\n',
  '<|begin_of_text|>already there', 'a <|eot_id|> b',
  '<think> reasoning </think>   answer <emb>', 'x   <emb>y', 'a</think>\n\nb',
  'buy [SKU] 123', 'buy[SKU]123', 'SKU:[SKU]', '_[SKU]_', 'é[SKU]',
  'café and cafe\u0301 and CAFÉ', 'i like <em> very </em> much',
  'waterproof sneakers', ' sneakers waterproof', 'the sneakers are waterproof',
];

// --- expectations ----------------------------------------------------------------------
async function reference(tokenizer, name, source, moreTexts = []) {
  const cases = [];
  for (const text of texts.concat(moreTexts)) {
    const plain = await tokenizer.encode(text, null, { addSpecialTokens: false });
    const special = await tokenizer.encode(text, null, { addSpecialTokens: true });
    const ids = plain.getIds();
    cases.push({ text, ids, ids_with_special_tokens: special.getIds(),
      decoded: await tokenizer.decode(special.getIds(), false),
      decoded_skip_special: await tokenizer.decode(special.getIds(), true) });
  }
  // Id sequences that are not whole characters: a lone UTF-8 lead byte, a cut emoji.
  const decodes = [];
  const pieces = [[...(await tokenizer.encode('中', null, { addSpecialTokens: false })).getIds()],
    [...(await tokenizer.encode('🚀', null, { addSpecialTokens: false })).getIds()]];
  for (const ids of pieces) for (let k = 1; k <= ids.length; ++k) {
    const cut = ids.slice(0, k);
    decodes.push({ ids: cut, text: await tokenizer.decode(cut, false) });
  }
  const out = { tokenizer: source, generated_by: 'make_reference.js with Hugging Face tokenizers (Node) ' +
    require('tokenizers/package.json').version, vocab_size: tokenizer.getVocabSize(true), cases, decodes };
  // One case per line: small files and readable diffs.
  const lines = (key) => out[key].map((c) => '  ' + JSON.stringify(c)).join(',\n');
  const head = JSON.stringify({ tokenizer: out.tokenizer, generated_by: out.generated_by, vocab_size: out.vocab_size });
  fs.writeFileSync(path.join(here, `expected_${name}.json`),
    `${head.slice(0, -1)},\n"cases": [\n${lines('cases')}\n],\n"decodes": [\n${lines('decodes')}\n]}\n`);
}

module.exports = { reference };

if (main) (async () => {
  for (const [name, json] of Object.entries(small)) {
    const file = path.join(here, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(json) + '\n');
    await reference(Tokenizer.fromFile(file), name, `${name}.json`);
  }
  await reference(Tokenizer.fromFile(qwen2Path), 'qwen2', 'qwen2-bpe/tokenizer.json (fixture)');
})().catch((e) => { console.error(e); process.exit(1); });
