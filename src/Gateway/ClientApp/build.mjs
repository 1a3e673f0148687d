// Builds the web front end into dist/: hashed, minified ES modules split per page, one CSS file,
// index.html pointing at them, and a .br and .gz copy of every asset so the gateway can serve
// them precompressed. Prints what the waiting page (/queue/{eventId}) transfers.
import * as esbuild from "esbuild";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

const dist = "dist";
const assets = join(dist, "assets");
rmSync(dist, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await esbuild.build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  sourcemap: false,
  outdir: assets,
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const outputs = result.metafile.outputs;
const entry = Object.keys(outputs).find((o) => outputs[o].entryPoint === "src/main.ts" && o.endsWith(".js"));
const css = outputs[entry].cssBundle;
const url = (file) => "/" + relative(dist, file).split("\\").join("/");

const html = readFileSync("src/index.html", "utf8")
  .replace("%MAIN_JS%", url(entry))
  .replace("%MAIN_CSS%", url(css));
writeFileSync(join(dist, "index.html"), html);

// Precompress: brotli at its best level and gzip, both made once here instead of on every request.
const compressed = {};
for (const file of [join(dist, "index.html"), ...readdirSync(assets).map((f) => join(assets, f))]) {
  const body = readFileSync(file);
  const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  writeFileSync(file + ".br", br);
  writeFileSync(file + ".gz", gzipSync(body, { level: 9 }));
  compressed[url(file)] = { raw: body.length, br: br.length };
}

// What the waiting page loads: index.html, the entry with its CSS, and every chunk the queue page's
// dynamic import pulls in (static imports, transitively).
const queueEntry = Object.keys(outputs).find((o) => outputs[o].inputs["src/pages/queue.ts"]);
const needed = new Set([join(dist, "index.html"), entry, css]);
const visit = (file) => {
  if (needed.has(file) && file !== entry) return;
  needed.add(file);
  for (const i of outputs[file]?.imports ?? []) if (i.kind === "import-statement") visit(i.path);
};
visit(entry);
visit(queueEntry);
const waiting = [...needed].map((f) => ({ file: url(f), ...compressed[url(f)] }));
const total = waiting.reduce((s, f) => ({ raw: s.raw + f.raw, br: s.br + f.br }), { raw: 0, br: 0 });
writeFileSync(join(dist, "waiting-page-size.json"), JSON.stringify({ files: waiting, total }, null, 2));
console.log(`web: waiting page = ${waiting.length} files, ${(total.br / 1024).toFixed(1)} KiB brotli (${(total.raw / 1024).toFixed(1)} KiB raw)`);
