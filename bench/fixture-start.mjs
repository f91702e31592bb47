#!/usr/bin/env node
// What a unit test pays for the embedded broker: in a fresh `node` process each run, the time
// to import `eventlab/broker` (dist/broker.js), start a broker on port 0 and close it. The goal
// is under 60 ms (median and max); on a busy machine the wall-clock time grows, and the CPU
// time of import + start (`cpu`) is the steadier figure. For comparison, `--main` measures
// the same through the package's main entry (dist/index.js), which loads the CLI's API too.
//
//   npm run build
//   node bench/fixture-start.mjs                 # 10 runs of dist/broker.js
//   node bench/fixture-start.mjs --runs 20 --main --json
//   node bench/fixture-start.mjs --dist ../copy/dist   # another build (a dist directory)
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    main: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    dist: { type: "string" },
  },
});
const dist = values.dist ? resolve(values.dist) : join(root, "dist");
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`error: --runs must be a whole number ≥ 1, not '${values.runs}'\n`);
  process.exit(1);
}

/** The script each fresh process runs: one JSON line of timings, in ms. */
const child = (entry) => `
const c0 = process.cpuUsage();
const t0 = performance.now();
const { startBroker } = await import(${JSON.stringify(entry)});
const t1 = performance.now();
const broker = await startBroker({ port: 0 });
const t2 = performance.now();
const c2 = process.cpuUsage(c0);
await broker.close();
const t3 = performance.now();
console.log(JSON.stringify({
  import: t1 - t0, start: t2 - t1, close: t3 - t2, total: t3 - t0,
  cpu: (c2.user + c2.system) / 1000,
}));
`;

function measure(file) {
  const entry = pathToFileURL(join(dist, file)).href;
  const samples = [];
  for (let i = 0; i < runs + 1; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", child(entry)], {
      encoding: "utf8",
      timeout: 30_000,
    });
    if (r.status !== 0) {
      process.stderr.write(`error: run ${i + 1} of ${file} failed\n${r.stderr}`);
      process.exit(1);
    }
    // The first run warms the disk cache and is not counted.
    if (i > 0) samples.push(JSON.parse(r.stdout.trim().split("\n").pop()));
  }
  return samples;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function summary(file, samples) {
  const pick = (k) => samples.map((s) => s[k]);
  const total = pick("total");
  return {
    entry: `dist/${file}`,
    runs: samples.length,
    importMedian: median(pick("import")),
    startMedian: median(pick("start")),
    closeMedian: median(pick("close")),
    totalMedian: median(total),
    totalMax: Math.max(...total),
    // CPU time of import + start: what the wall-clock figures cost when the machine is idle.
    cpuMedian: median(pick("cpu")),
    goalMs: 60,
    met: Math.max(...total) < 60,
  };
}

const results = [summary("broker.js", measure("broker.js"))];
if (values.main) results.push(summary("index.js", measure("index.js")));

if (values.json) {
  process.stdout.write(`${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
} else {
  const ms = (x) => `${x.toFixed(1)} ms`;
  process.stdout.write(
    `import + startBroker({ port: 0 }) + close, fresh node ${process.version}\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `${r.entry.padEnd(16)} runs ${r.runs}  import ${ms(r.importMedian)}  start ${ms(r.startMedian)}  close ${ms(r.closeMedian)}  total median ${ms(r.totalMedian)}  max ${ms(r.totalMax)}  cpu ${ms(r.cpuMedian)}  ${r.entry.endsWith("broker.js") ? (r.met ? "goal < 60 ms: met" : "goal < 60 ms: MISSED") : ""}\n`,
    );
  }
}
