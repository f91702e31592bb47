/**
 * ui/table.ts: columns as wide as their widest cell in terminal columns, whatever colour
 * codes or wide characters the cells hold; no trailing spaces.
 */
import { describe, expect, it } from "vitest";
import { table } from "../../src/ui/table.js";
import { createTheme } from "../../src/ui/theme.js";

const strip = (s: string) => s.replace(/\u001b\[\d+m/g, "");

describe("table", () => {
  it("pads every column but the last to its widest cell", () => {
    expect(
      table([
        ["setting", "requested", "on the broker"],
        ["x-max-length", "10", "20"],
      ]),
    ).toEqual(["setting       requested  on the broker", "x-max-length  10         20"]);
  });

  it("takes an indent, a gap and right-aligned columns", () => {
    expect(
      table(
        [
          ["a", "1", "x"],
          ["bbb", "100", "y"],
        ],
        { indent: "  ", gap: " | ", align: ["left", "right"] },
      ),
    ).toEqual(["  a   |   1 | x", "  bbb | 100 | y"]);
  });

  it("measures coloured cells by what shows, and wide characters as two columns", () => {
    const theme = createTheme(true);
    const lines = table([
      [theme.ok("ok"), "日本", "end"],
      ["fail", "ab", "end"],
    ]);
    expect(lines[0]).toMatch(/\u001b\[/);
    expect(lines.map(strip)).toEqual(["ok    日本  end", "fail  ab    end"]);
  });

  it("keeps empty columns, so that rows line up whatever they hold", () => {
    expect(
      table([
        ["q1", "", "matched"],
        ["queue-2", "", "no"],
      ]),
    ).toEqual(["q1         matched", "queue-2    no"]);
    expect(table([])).toEqual([]);
  });
});
