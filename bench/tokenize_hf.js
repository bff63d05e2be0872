// Hugging Face `tokenizers` (the official Node binding of the Rust library) on the same
// workload as bench_tokenize: a text file cut into documents of --chunk-lines lines, each
// encoded without special tokens,
// one untimed pass, then passes for at least --seconds. Run with RAYON_NUM_THREADS=1 so the
// batch runs on one thread, like lrem's. Development-time reference only; prints one JSON line.
//
//   RAYON_NUM_THREADS=1 NODE_PATH=/tmp/hfref/node_modules \
//     node bench/tokenize_hf.js --tokenizer tokenizer.json --text mixed.txt [--chunk-lines 200] [--seconds 5] [--label qwen2]
'use strict';
const fs = require('fs');
const os = require('os');
const { Tokenizer } = require('tokenizers');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const seconds = Number(args.seconds || 5);
const text = fs.readFileSync(args.text, 'utf8');
const lines = text.split('\n');
if (lines[lines.length - 1] === '') lines.pop();
const chunkLines = Number(args['chunk-lines'] || 200);
const documents = [];
for (let i = 0; i < lines.length; i += chunkLines) documents.push(lines.slice(i, i + chunkLines).join('\n') + '\n');
const tokenizer = Tokenizer.fromFile(args.tokenizer);

async function pass() {
  const encodings = await tokenizer.encodeBatch(documents, { addSpecialTokens: false });
  return encodings.reduce((sum, e) => sum + e.getLength(), 0);
}

(async () => {
  const tokens = await pass();
  let passes = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds || passes < 2) {
    if ((await pass()) !== tokens) throw new Error('encoding is not deterministic');
    ++passes;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  console.log(JSON.stringify({
    bench: 'tokenize', implementation: 'huggingface-tokenizers ' + require('tokenizers/package.json').version,
    label: args.label || '', lines: lines.length, documents: documents.length, bytes, tokens, passes,
    tokens_per_s: tokens * passes / elapsed, mb_per_s: bytes * passes / elapsed / 1e6,
    rayon_threads: process.env.RAYON_NUM_THREADS || 'unset', load_average_1min: os.loadavg()[0],
  }));
})().catch((e) => { console.error(e); process.exit(1); });
