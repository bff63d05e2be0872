// What Hugging Face's own `tokenizers` library makes of the tokenizer.json files that lrem
// writes after adding its tokens (Model.with_lrem_tokens().save()): the fixture Qwen2 tokenizer
// plus <think>, </think>, <emb>, and a Qwen3-like one (the fixture plus Qwen3's own <think> and
// </think>) plus <emb>. The lrem-saved directories are made first (README.md here):
//
//   PYTHONPATH=build/python:tests/python /usr/bin/python3 -c \
//     'import sys, checkpoints; checkpoints.save_lrem_token_models(sys.argv[1], sys.argv[2])' \
//     ../shared/fixtures /tmp/lrem-saved &&
//   NODE_PATH=/tmp/hfref/node_modules node tests/data/tokenizers/make_saved_reference.js /tmp/lrem-saved
'use strict';
const path = require('path');
const { Tokenizer } = require('tokenizers');
const { reference } = require('./make_reference.js');

const saved = process.argv[2];
if (!saved) throw new Error('usage: make_saved_reference.js <dir with the lrem-saved qwen2/ and qwen3/>');

// The new tokens in the places LREM puts them, in chat turns, and glued to text.
const lremTexts = [
  '<think></think><emb>', 'waterproof boots<think>rain gear</think><emb>', 'red dress <emb>',
  '<|im_start|>user\nhiking boots<|im_end|>\n<|im_start|>assistant\n<think>trail footwear</think><emb>',
  '<emb><emb><think></think>', 'x<emb>y', '<think>\n\n</think>\n\n<emb>', '<em b><emb ><EMB><emb',
  'Instruct: Given a query\nQuery:red dress<|endoftext|>', '中文<think>无线耳机</think><emb>🙂',
];

(async () => {
  for (const name of ['qwen2', 'qwen3']) {
    const file = path.join(saved, name, 'tokenizer.json');
    await reference(Tokenizer.fromFile(file), `${name}_lrem_saved`,
      `lrem-saved ${name} tokenizer.json (checkpoints.save_lrem_token_models)`, lremTexts);
  }
})().catch((e) => { console.error(e); process.exit(1); });
