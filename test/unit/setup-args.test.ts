/**
 * argv → options for setup and init: every flag lands in the options object, and every
 * bad value is a usage error that names the flag. Nothing runs: the run is a stub.
 */
import { describe, expect, it } from "vitest";
import { initCommand } from "../../src/commands/init.js";
import { type SetupOptions, setupCommand } from "../../src/commands/setup.js";
import { type CommandFactory, optionsOf, usageErrorOf } from "../helpers/argv.js";

const setup = (argv: string[]) => optionsOf(setupCommand, argv);
const setupError = (argv: string[]) => usageErrorOf(setupCommand, argv);
const init = (argv: string[]) => optionsOf(initCommand, argv);
const initError = (argv: string[]) => usageErrorOf(initCommand, argv);

/** The command as built after the global `--config <file>` was read. */
function withGlobalConfig<O>(make: CommandFactory<O>, config: string): CommandFactory<O> {
  return (ctx, run) => {
    ctx.globals = { ...ctx.globals, config };
    return make(ctx, run);
  };
}

describe("setup argv", () => {
  it("maps every flag", async () => {
    // biome-ignore format: one flag a line reads best
    const o = await setup([
      "--broker", "amqp://rabbit:5672",
      "--exchange", "orders",
      "--type", "topic",
      "--queue", "inventory=order.*",
      "--queue", "eu=region:eu,priority:5,code:\"5\"",
      "--queue", "audit",
      "--match", "any",
      "--template", "created=order.created",
      "--template", "paid",
      "--routing-key", "order.{{pick eu us}}",
      "--field", "id=uuid",
      "--field", "who=name",
      "--amount", "7",
      "--delay", "250ms",
      "--file", "lab/x.yaml",
      "--yes",
      "--try",
      "--json",
    ]);
    expect(o).toEqual({
      flags: {
        broker: "amqp://rabbit:5672",
        exchange: "orders",
        type: "topic",
        match: "any",
        queues: [
          { name: "inventory", key: "order.*" },
          { name: "eu", headers: { region: "eu", priority: 5, code: "5" } },
          { name: "audit" },
        ],
        templates: [{ name: "created", routingKey: "order.created" }, { name: "paid" }],
        routingKey: "order.{{pick eu us}}",
        fields: [
          ["id", "uuid"],
          ["who", "name"],
        ],
        amount: 7,
        delayMs: 250,
      },
      file: "lab/x.yaml",
      yes: true,
      tryIt: true,
      json: true,
    } satisfies SetupOptions);
  });

  it("leaves open what the flags do not answer, so that setup asks or takes defaults", async () => {
    const o = await setup([]);
    expect(o).toEqual({
      flags: {
        broker: undefined,
        exchange: undefined,
        type: undefined,
        match: undefined,
        queues: undefined,
        templates: undefined,
        routingKey: undefined,
        fields: undefined,
        amount: undefined,
        delayMs: undefined,
      },
      file: "eventlab.config.yaml",
      yes: false,
      tryIt: undefined,
      json: false,
    });
    expect((await setup(["--no-try"])).tryIt).toBe(false);
    expect((await setup(["-n", "0", "-d", "0"])).flags).toMatchObject({ amount: 0, delayMs: 0 });
  });

  it("writes to the global --config when --file is not given", async () => {
    const make = withGlobalConfig(setupCommand, "mine.yaml");
    expect((await optionsOf(make, [])).file).toBe("mine.yaml");
    expect((await optionsOf(make, ["--file", "other.yaml"])).file).toBe("other.yaml");
  });

  it("takes names the config takes, by the config schema's rule", async () => {
    // Template names are not broker objects: "amq." is reserved for exchanges and queues only.
    expect((await setup(["--template", "amq.like"])).flags.templates).toEqual([
      { name: "amq.like" },
    ]);
    expect((await setup(["--queue", "a.b-c_d"])).flags.queues).toEqual([{ name: "a.b-c_d" }]);
  });

  it.each([
    [
      ["--exchange", "amq.x"],
      `--exchange "amq.x": exchange names starting with "amq." are reserved by the broker; pick another name`,
    ],
    [["--exchange", ""], `--exchange "": exchange name must not be empty`],
    [["--queue", "amq.q"], `--queue "amq.q": queue names starting with "amq." are reserved`],
    [["--queue", "=order.*"], `--queue "": queue name must not be empty`],
    [
      ["--queue", "eu=region:eu,priority"],
      "error: option '--queue <name[=binding]>' argument 'eu=region:eu,priority' is invalid. Expected name=k:v,k:v header pairs",
    ],
    [["--queue", `${"q".repeat(256)}`], "queue name is longer than 255 characters"],
    [
      ["--template", "a=x", "--template", "a=y"],
      "error: option '--template <name[=routing-key]>' argument 'a=y' is invalid. Expected each template once; a is given twice.",
    ],
    [["--template", "=key"], `--template "": template name must not be empty`],
    [
      ["--field", "id=guid"],
      "error: option '--field <name=generator>' argument 'id=guid' is invalid. Expected name=generator, e.g. id=uuid; generators: seq, uuid,",
    ],
    [
      ["--field", "=uuid"],
      "error: option '--field <name=generator>' argument '=uuid' is invalid. Expected name=generator",
    ],
    [
      ["--field", "id=toString"],
      "error: option '--field <name=generator>' argument 'id=toString' is invalid.",
    ],
    [
      ["--type", "round"],
      "error: option '--type <type>' argument 'round' is invalid. Allowed choices are direct, topic, fanout, headers.",
    ],
    [
      ["--match", "most"],
      "error: option '--match <mode>' argument 'most' is invalid. Allowed choices are all, any, all-with-x, any-with-x.",
    ],
    [
      ["--amount", "-1"],
      "error: option '-n, --amount <n>' argument '-1' is invalid. Expected a whole number ≥ 0.",
    ],
    [["--delay", "soon"], "error: option '-d, --delay <duration>' argument 'soon' is invalid."],
    [
      ["--file", " "],
      "error: option '-f, --file <path>' argument ' ' is invalid. Expected a path, e.g. eventlab.config.yaml.",
    ],
  ])("refuses %j", async (argv, message) => {
    expect(await setupError(argv)).toContain(message);
  });

  it("an empty global --config is a usage error naming it", async () => {
    expect(await usageErrorOf(withGlobalConfig(setupCommand, ""), [])).toBe(
      "--config needs a path",
    );
  });
});

describe("init argv", () => {
  it("defaults: the default file, nothing forced, the example (not a preset)", async () => {
    expect(await init([])).toEqual({
      file: "eventlab.config.yaml",
      force: false,
      json: false,
      preset: undefined,
      list: false,
    });
  });

  it("maps every flag", async () => {
    expect(await init(["-f", "lab/o.yaml", "--force", "--json", "-p", " soccer "])).toEqual({
      file: "lab/o.yaml",
      force: true,
      json: true,
      preset: "soccer",
      list: false,
    });
    expect(await init(["--list", "--json"])).toMatchObject({ list: true, json: true });
  });

  it("writes to the global --config when --file is not given", async () => {
    const make = withGlobalConfig(initCommand, "mine.yaml");
    expect((await optionsOf(make, [])).file).toBe("mine.yaml");
    expect((await optionsOf(make, ["--file", "x.json"])).file).toBe("x.json");
  });

  it.each([
    [["--file", ""], "error: option '-f, --file <path>' argument '' is invalid. Expected a path"],
    [
      ["--preset", " "],
      "error: option '-p, --preset <name>' argument ' ' is invalid. Expected a preset name",
    ],
    [
      ["--preset", "soccer", "--list"],
      "error: option '-p, --preset <name>' cannot be used with option '-l, --list'",
    ],
  ])("refuses %j", async (argv, message) => {
    expect(await initError(argv)).toContain(message);
  });
});
