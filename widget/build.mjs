// Build the widget into OUTDIR (default ../app/static/widget): the bundle and
// the loader, each named by a hash of its bytes, and manifest.json naming
// both. The output depends only on the sources and the pinned esbuild: no
// timestamps, no absolute paths, a fixed target. `make widget-check` builds
// into a temporary directory and compares byte for byte.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] || join(here, "../app/static/widget"));

// Browsers with Shadow DOM, BroadcastChannel-less fallbacks handled in code.
const target = ["chrome90", "firefox90", "safari15", "edge90"];

async function bundle(entry, define = {}) {
  const result = await build({
    absWorkingDir: here,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    target,
    charset: "utf8",
    legalComments: "none",
    sourcemap: false,
    write: false,
    define,
    logLevel: "warning",
  });
  return result.outputFiles[0].contents;
}

function hashed(prefix, bytes) {
  const digest = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
  return `${prefix}.${digest}.js`;
}

const widget = await bundle("src/index.js");
const widgetName = hashed("parley-widget", widget);
const loader = await bundle("src/loader.js", {
  __PARLEY_BUNDLE__: JSON.stringify(`widget/${widgetName}`),
});
const loaderName = hashed("parley-loader", loader);

mkdirSync(outdir, { recursive: true });
for (const name of readdirSync(outdir)) {
  if (name.startsWith("parley-") || name === "manifest.json") {
    rmSync(join(outdir, name));
  }
}
writeFileSync(join(outdir, widgetName), widget);
writeFileSync(join(outdir, loaderName), loader);
const manifest = { "loader.js": loaderName, "widget.js": widgetName };
writeFileSync(join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`widget: ${loaderName} ${loader.length} B, ${widgetName} ${widget.length} B`);
