// gguf_check.mjs — an oracle the project did not write: parses two GGUF files
// with Hugging Face's @huggingface/gguf and checks that they hold the same
// metadata (keys in order, value types, values) and tensor infos (names in
// order, shapes, ggml types, offsets, data offset).
//
//   node tests/node/gguf_check.mjs A.gguf B.gguf
//
// Prints "gguf_check OK: K keys, T tensors" and exits 0, or prints the first
// difference and exits 1; exits 2 when the package is missing. The package is
// looked up in $HC_NODE_MODULES, else .node/node_modules beside the repository
// root (what `npm install --prefix .node @huggingface/gguf` makes).
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import fs from "node:fs";

const here = path.dirname(fileURLToPath(import.meta.url));
const mods = process.env.HC_NODE_MODULES || path.resolve(here, "..", "..", ".node", "node_modules");
const entry = path.join(mods, "@huggingface", "gguf", "dist", "index.mjs");
if (!fs.existsSync(entry)) {
  console.log(`gguf_check: @huggingface/gguf not installed (looked for ${entry})`);
  process.exit(2);
}
const { gguf } = await import(pathToFileURL(entry).href);

const [a, b] = process.argv.slice(2);
if (!a || !b) {
  console.log("usage: node gguf_check.mjs A.gguf B.gguf");
  process.exit(2);
}

const norm = (v) =>
  typeof v === "bigint" ? `${v}n` : Array.isArray(v) ? v.map(norm) : v;
const same = (x, y) => JSON.stringify(norm(x)) === JSON.stringify(norm(y));

async function load(p) {
  return gguf(path.resolve(p), { allowLocalFile: true, typedMetadata: true });
}

let A, B;
try {
  A = await load(a);
  B = await load(b);
} catch (e) {
  console.log(`gguf_check: parse failed: ${e && e.message ? e.message : e}`);
  process.exit(1);
}
function fail(msg) {
  console.log(`gguf_check FAIL: ${msg}`);
  process.exit(1);
}
const ka = Object.keys(A.typedMetadata), kb = Object.keys(B.typedMetadata);
if (!same(ka, kb)) fail(`metadata keys differ:\n  ${ka.join(",")}\n  ${kb.join(",")}`);
for (const k of ka) {
  const x = A.typedMetadata[k], y = B.typedMetadata[k];
  if (x.type !== y.type || x.subType !== y.subType) fail(`key ${k}: type ${x.type}/${x.subType} vs ${y.type}/${y.subType}`);
  if (!same(x.value, y.value)) fail(`key ${k}: values differ`);
}
if (A.tensorInfos.length !== B.tensorInfos.length)
  fail(`${A.tensorInfos.length} vs ${B.tensorInfos.length} tensors`);
A.tensorInfos.forEach((t, i) => {
  const u = B.tensorInfos[i];
  if (t.name !== u.name || t.dtype !== u.dtype || !same(t.shape, u.shape) || !same(t.offset, u.offset))
    fail(`tensor ${i}: ${t.name} ${t.dtype} [${norm(t.shape)}] @${t.offset} vs ${u.name} ${u.dtype} [${norm(u.shape)}] @${u.offset}`);
});
if (A.tensorDataOffset !== B.tensorDataOffset) fail(`tensor data offset ${A.tensorDataOffset} vs ${B.tensorDataOffset}`);
// the reader's own view of what it parsed, so the caller can check it too
const names = A.tensorInfos.map((t) => `${t.name}:${t.dtype}:${norm(t.shape).join("x")}`).join(" ");
console.log(`gguf_check OK: ${ka.length} keys, ${A.tensorInfos.length} tensors, data at ${A.tensorDataOffset}; ${names}`);
