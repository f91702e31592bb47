/** JUnit XML as CI systems read it: parsed back, every count and failure where it belongs. */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { junitXml, xmlText } from "../../src/ui/junit.js";

describe("junitXml", () => {
  it("one suite per run, one case per check, failures with their details; well-formed", () => {
    const xml = junitXml([
      {
        name: "checkout",
        timeSeconds: 1.2345,
        timestamp: "2026-12-03T07:00:00.000Z",
        output: "published 40 <all>",
        cases: [
          {
            name: "queue billing receives 40",
            classname: "checkout.queue",
            ok: true,
            message: "",
            details: "",
          },
          {
            name: 'threshold p99 <= 5 ms & "more"',
            classname: "checkout.threshold",
            ok: false,
            message: "expected p99 <= 5 ms, got 31 ms",
            details: "expected: <= 5 ms\nactual: 31 ms\nmessage ids: a:1, a:2",
          },
        ],
      },
      { name: "refunds", timeSeconds: 0.5, timestamp: "2026-12-03T07:00:02.000Z", cases: [] },
    ]);
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml);
    expect(doc.testsuites).toMatchObject({ tests: "2", failures: "1", errors: "0", time: "1.735" });
    const [checkout, refunds] = doc.testsuites.testsuite;
    expect(checkout).toMatchObject({ name: "checkout", tests: "2", failures: "1", time: "1.235" });
    expect(checkout["system-out"]).toBe("published 40 <all>");
    expect(checkout.testcase[0]).toMatchObject({
      name: "queue billing receives 40",
      classname: "checkout.queue",
    });
    expect(checkout.testcase[0].failure).toBeUndefined();
    expect(checkout.testcase[1].name).toBe('threshold p99 <= 5 ms & "more"');
    expect(checkout.testcase[1].failure).toMatchObject({
      message: "expected p99 <= 5 ms, got 31 ms",
      type: "expectation",
      "#text": "expected: <= 5 ms\nactual: 31 ms\nmessage ids: a:1, a:2",
    });
    expect(refunds).toMatchObject({ name: "refunds", tests: "0", failures: "0" });
  });

  it("text XML cannot hold is dropped, the rest escaped", () => {
    expect(xmlText("a\u0000b\u001Fc<&>\"'\n\t")).toBe("abc&lt;&amp;&gt;&quot;&apos;\n\t");
  });
});
