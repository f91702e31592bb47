import { createRequire } from "node:module";

const requireJson = createRequire(import.meta.url);
/** The package version, read from package.json (one level up from dist/ or src/). */
export const VERSION: string = (requireJson("../package.json") as { version: string }).version;
