/** `eventlab play --ci` and `eventlab test` on the embedded broker (the suite: test/helpers/play-ci-suite.ts). */
import { describe } from "vitest";
import { playCiSuite } from "../helpers/play-ci-suite.js";

describe("play --ci on the embedded broker", () => {
  playCiSuite({ urlFlags: [], name: (base) => base });
});
