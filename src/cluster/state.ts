/**
 * The cluster's directory: its record (cluster.json), the Erlang cookie its nodes and
 * rabbitmqctl share, and removing it all again without touching anything eventlab did not
 * put there. Also the one error for "RabbitMQ is not installed".
 */
import { randomBytes } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { readdir, readFile, rename, rm, rmdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { EventlabError } from "../errors.js";
import { findRabbitTools, type RabbitTools } from "./exec.js";
import { type ClusterRecord, clusterPaths, nodeUrls, parseRecord } from "./layout.js";

/** The default directory: $EVENTLAB_CLUSTER_DIR (as given), else ~/.eventlab/cluster. */
export function defaultClusterDir(env: NodeJS.ProcessEnv): string {
  const fromEnv = env["EVENTLAB_CLUSTER_DIR"];
  if (fromEnv) return fromEnv;
  return path.join(env["HOME"] || os.homedir(), ".eventlab", "cluster");
}

/** Where packages put rabbitmq-server outside a user's usual PATH (Debian: /usr/sbin). */
export const SBIN_DIRS = ["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/sbin"];

/**
 * rabbitmq-server and rabbitmqctl, or an error that says how to install them. `sbinDirs` are
 * only looked at to say so when it is installed but not on the PATH.
 */
export function rabbitTools(env: NodeJS.ProcessEnv, sbinDirs = SBIN_DIRS): RabbitTools {
  const found = findRabbitTools(env);
  if ("tools" in found) return found.tools;
  const elsewhere = found.tried === "the PATH" ? findElsewhere(found.missing, sbinDirs) : undefined;
  return missingRabbitMq(found.missing, found.tried, elsewhere);
}

function findElsewhere(name: string, dirs: readonly string[]): string | undefined {
  return dirs
    .map((d) => path.join(d, name))
    .find((f) => {
      try {
        accessSync(f, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

const INSTALL =
  "install RabbitMQ (Debian/Ubuntu: apt-get install rabbitmq-server; macOS: brew install rabbitmq)";

export function missingRabbitMq(what: string, tried: string, elsewhere?: string): never {
  if (elsewhere)
    throw new EventlabError("not-found", `${what} was not found on the PATH`, {
      hint: `it is in ${path.dirname(elsewhere)}: add that directory to PATH, or set ${what === "rabbitmqctl" ? "EVENTLAB_RABBITMQCTL" : "EVENTLAB_RABBITMQ_SERVER"}=${elsewhere} (to ${INSTALL})`,
    });
  throw new EventlabError(
    "not-found",
    `${what} is not installed (looked in ${tried}): a local cluster runs the RabbitMQ installed on this machine`,
    {
      hint: `${INSTALL}, or point EVENTLAB_RABBITMQ_SERVER and EVENTLAB_RABBITMQCTL at its scripts; \`eventlab broker\` needs nothing installed`,
    },
  );
}

/** The cluster recorded in `dir`, or undefined when there is none. */
export async function readRecord(dir: string): Promise<ClusterRecord | undefined> {
  const file = clusterPaths(dir).record;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new EventlabError("io", `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const record = parseRecord(text);
  if (typeof record === "string")
    throw new EventlabError("io", `${file} is not a cluster record: ${record}`, {
      hint: `stop any nodes it started by hand, then remove ${dir}`,
    });
  return record;
}

/** The cluster in `dir`, or an error that says there is none and how to make one. */
export async function requireRecord(dir: string): Promise<ClusterRecord> {
  const record = await readRecord(dir);
  if (record) return record;
  throw new EventlabError("not-found", `no cluster in ${dir}`, {
    hint: "start one with `eventlab cluster up` (and the same --dir, if you gave one)",
  });
}

/** Write the record atomically (a reader never sees half of it). */
export async function writeRecord(record: ClusterRecord): Promise<void> {
  const file = clusterPaths(record.dir).record;
  const tmp = `${file}.${process.pid}.tmp`;
  // Each node's URLs too, for a person (or a script) reading the file; not read back.
  const shown = { ...record, nodes: record.nodes.map((n) => ({ ...n, urls: nodeUrls(n) })) };
  await writeFile(tmp, `${JSON.stringify(shown, null, 2)}\n`);
  await rename(tmp, file);
}

/** A fresh Erlang cookie, shared by the nodes and rabbitmqctl through HOME=dir. */
export async function writeCookie(dir: string): Promise<void> {
  const cookie = randomBytes(24)
    .toString("base64")
    .replace(/[^A-Za-z0-9]/g, "")
    .toUpperCase();
  const file = clusterPaths(dir).cookie;
  await rm(file, { force: true });
  await writeFile(file, cookie, { mode: 0o400 });
}

/** The env file nodes read instead of /etc/rabbitmq/rabbitmq-env.conf (empty on purpose). */
export async function writeEnvFile(dir: string): Promise<void> {
  await writeFile(
    clusterPaths(dir).envFile,
    "# eventlab cluster: every setting is in each node's environment; this file keeps\n# /etc/rabbitmq/rabbitmq-env.conf from being read.\n",
  );
}

/** Entries of a cluster directory that eventlab made (node-N, tls and the files). */
function ours(name: string): boolean {
  return (
    /^node-\d+$/.test(name) ||
    name === "tls" ||
    name === "cluster.json" ||
    name === ".erlang.cookie" ||
    name === "rabbitmq-env.conf" ||
    /^cluster\.json\.\d+\.tmp$/.test(name)
  );
}

/** What is in `dir` that eventlab did not put there; empty for a missing directory. */
export async function foreignEntries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !ours(n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/**
 * Remove what eventlab made in `dir`, then the directory itself if nothing else is left.
 * Returns whether the directory is gone.
 */
export async function removeClusterFiles(
  dir: string,
  o: { keepDir?: boolean } = {},
): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw err;
  }
  await Promise.all(
    names.filter(ours).map((n) => rm(path.join(dir, n), { recursive: true, force: true })),
  );
  if (o.keepDir) return false;
  try {
    await rmdir(dir);
    return true;
  } catch {
    return false;
  }
}
