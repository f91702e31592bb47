// What bench/broker.js reads about a broker process: RSS (VmRSS, VmHWM from
// /proc/<pid>/status), CPU time (/proc/<pid>/stat), RabbitMQ's pid, and RabbitMQ's own view of a
// queue (rabbitmqctl). Linux only; every function returns undefined rather than throwing when
// the figure is not available, and every external command is bounded in time.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * { rssKb, hwmKb } of a process, or undefined.
 * @param {number | undefined} pid
 * @returns {{ rssKb: number; hwmKb: number } | undefined}
 */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (/** @type {string} */ key) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
    return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

// Clock ticks per second for /proc/<pid>/stat; 100 on every Linux this runs on.
const TICKS = 100;

/**
 * RabbitMQ's figures for one queue (each as rabbitmqctl gave it), or only `error`.
 * @typedef {object} RabbitQueueInfo
 * @property {string} [error]
 * @property {number} [messages]
 * @property {number} [memory]
 * @property {number} [messagesRam]
 * @property {number} [messageBytesRam]
 * @property {number} [messageBytes]
 */

/**
 * User + system CPU time of a process so far (ms), or undefined.
 * @param {number | undefined} pid
 * @returns {number | undefined}
 */
export function cpuMs(pid) {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  } catch {
    return undefined;
  }
}

/**
 * @param {string} command
 * @param {string[]} args
 * @param {number} timeoutMs
 * @returns {Promise<{ error: import("node:child_process").ExecFileException | null; stdout: string; stderr: string }>}
 */
function exec(command, args, timeoutMs) {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, encoding: "utf8" }, (error, stdout, stderr) =>
      resolve({ error, stdout, stderr }),
    );
  });
}

/**
 * The pid of the local RabbitMQ node (the beam.smp with the largest RSS), or undefined.
 * @returns {Promise<number | undefined>}
 */
export async function rabbitPid() {
  const { error, stdout } = await exec("pgrep", ["-f", "beam.smp"], 5000);
  if (error) return undefined;
  const pids = stdout.split("\n").filter(Boolean).map(Number);
  pids.sort((a, b) => (memory(b)?.rssKb ?? 0) - (memory(a)?.rssKb ?? 0));
  return pids[0];
}

/**
 * Is the broker at `url` on this machine (so that its process can be read)?
 * @param {string} url
 */
export function isLocal(url) {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return ["127.0.0.1", "localhost", "::1", "0.0.0.0"].includes(host);
  } catch {
    return false;
  }
}

/**
 * RabbitMQ's figures for one queue: { messages, memory, messagesRam, messageBytesRam,
 * messageBytes }, or { error } when rabbitmqctl is missing, not allowed, or slow.
 * @param {string} queue
 * @param {string} [vhost]
 * @returns {Promise<RabbitQueueInfo>}
 */
export async function rabbitQueueInfo(queue, vhost = "/") {
  const columns = [
    "name",
    "messages",
    "memory",
    "messages_ram",
    "message_bytes_ram",
    "message_bytes",
  ];
  const { error, stdout, stderr } = await exec(
    "rabbitmqctl",
    ["-q", "list_queues", "-p", vhost, "--formatter", "json", ...columns],
    30_000,
  );
  if (error) return { error: (stderr || error.message).trim().split("\n")[0] ?? "" };
  try {
    /** @type {Array<{ name: string; messages: number; memory: number; messages_ram: number; message_bytes_ram: number; message_bytes: number }>} */
    const rows = JSON.parse(stdout);
    const row = rows.find((r) => r.name === queue);
    if (!row) return { error: `rabbitmqctl does not list ${queue}` };
    return {
      messages: row.messages,
      memory: row.memory,
      messagesRam: row.messages_ram,
      messageBytesRam: row.message_bytes_ram,
      messageBytes: row.message_bytes,
    };
  } catch (err) {
    return { error: `rabbitmqctl output: ${/** @type {Error} */ (err).message}` };
  }
}
