// Print the gzipped size of each file the widget loads before the visitor
// opens it (the loader behind /widget.js and the bundle it loads), and the
// total; exit 1 if the total is over the budget of 30 KB (30,720 bytes).
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET = 30720;
const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] || join(here, "../app/static/widget"));
const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8"));

let total = 0;
for (const [logical, name] of Object.entries(manifest)) {
  const bytes = readFileSync(join(outdir, name));
  const gzipped = gzipSync(bytes, { level: 9 }).length;
  total += gzipped;
  console.log(
    `${String(gzipped).padStart(7)} B gzipped  ${name} (${logical}, ${bytes.length} B raw)`,
  );
}
console.log(`${String(total).padStart(7)} B gzipped  total loaded before open (budget ${BUDGET})`);
if (total > BUDGET) {
  console.error(`widget-size: ${total} B is over the budget of ${BUDGET} B.`);
  process.exit(1);
}
