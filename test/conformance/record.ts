/**
 * Record RabbitMQ's outcomes into test/fixtures/conformance/rabbitmq-outcomes.json.
 *
 *   EVENTLAB_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npx tsx test/conformance/record.ts [runs] [filter]
 *
 * Every scenario runs `runs` times (default 2); a scenario whose outcomes differ between runs is
 * reported as flaky and the fixture is not written. Afterwards run
 *   npx biome check --write test/fixtures/conformance
 * (biome lays out short JSON arrays differently from JSON.stringify).
 */
import { writeFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { runScenario } from "./harness.js";
import { FIXTURE_PATH, type Outcomes } from "./outcomes.js";
import { SCENARIOS } from "./scenarios.js";

const { EVENTLAB_TEST_AMQP_URL: url } = process.env;
if (!url) {
  console.error("set EVENTLAB_TEST_AMQP_URL");
  process.exit(2);
}
const runs = Number(process.argv[2] ?? "2");
const filter = process.argv[3];
const outcomes: Outcomes = {};
const flaky: string[] = [];
for (const s of SCENARIOS) {
  if (filter && !s.name.includes(filter)) continue;
  const started = Date.now();
  const results = [];
  for (let i = 0; i < runs; i++) {
    try {
      results.push(await runScenario(s, url));
    } catch (e) {
      results.push(`THREW: ${(e as Error).message}`);
      flaky.push(`${s.name} (threw)`);
    }
  }
  const [first, ...rest] = results;
  if (!rest.every((r) => isDeepStrictEqual(r, first))) flaky.push(s.name);
  outcomes[s.name] = first ?? null;
  console.log(`${Date.now() - started}ms ${s.name}\n  ${JSON.stringify(first)}`);
}
if (flaky.length > 0) {
  console.error(`flaky, fixture not written:\n  ${flaky.join("\n  ")}`);
  process.exit(1);
}
if (!filter) {
  await writeFile(FIXTURE_PATH, `${JSON.stringify(outcomes, null, 2)}\n`);
  console.log(`wrote ${Object.keys(outcomes).length} outcomes to ${FIXTURE_PATH}`);
}
