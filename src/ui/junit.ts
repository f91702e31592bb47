/**
 * JUnit XML, the format CI systems show as test results: one <testsuite> per scenario run,
 * one <testcase> per check, a <failure> with the expected and actual values and the message
 * ids involved. Knows nothing of AMQP: it writes what it is given.
 */

export interface JunitCase {
  name: string;
  /** Groups cases in CI's view: the kind of check. */
  classname: string;
  ok: boolean;
  /** Seconds the case took, when it has its own time. */
  timeSeconds?: number | undefined;
  /** One line, for the failure's message attribute. */
  message: string;
  /** The failure's body: expected, actual, ids. */
  details: string;
}

export interface JunitSuite {
  name: string;
  timeSeconds: number;
  timestamp: string;
  cases: JunitCase[];
  /** Printed as the suite's system-out: the run's summary. */
  output?: string | undefined;
}

/** Text for XML: the five escapes, and characters XML 1.0 cannot hold dropped. */
export function xmlText(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

const seconds = (s: number) => (Math.round(s * 1000) / 1000).toFixed(3);

export function junitXml(suites: readonly JunitSuite[], name = "eventlab"): string {
  const count = (f: (c: JunitCase) => boolean) =>
    suites.reduce((n, s) => n + s.cases.filter(f).length, 0);
  const total = count(() => true);
  const failures = count((c) => !c.ok);
  const time = suites.reduce((t, s) => t + s.timeSeconds, 0);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlText(name)}" tests="${total}" failures="${failures}" errors="0" time="${seconds(time)}">`,
  ];
  for (const [i, s] of suites.entries()) {
    const f = s.cases.filter((c) => !c.ok).length;
    out.push(
      `  <testsuite name="${xmlText(s.name)}" id="${i}" tests="${s.cases.length}" failures="${f}" errors="0" skipped="0" time="${seconds(s.timeSeconds)}" timestamp="${xmlText(s.timestamp)}">`,
    );
    for (const c of s.cases) {
      const attrs = `name="${xmlText(c.name)}" classname="${xmlText(c.classname)}" time="${seconds(c.timeSeconds ?? 0)}"`;
      if (c.ok) {
        out.push(`    <testcase ${attrs}/>`);
        continue;
      }
      out.push(`    <testcase ${attrs}>`);
      out.push(
        `      <failure message="${xmlText(c.message)}" type="expectation">${xmlText(c.details)}</failure>`,
      );
      out.push("    </testcase>");
    }
    if (s.output) out.push(`    <system-out>${xmlText(s.output)}</system-out>`);
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return `${out.join("\n")}\n`;
}
