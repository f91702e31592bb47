import { UsageError } from "../errors.js";

/** An AMQP URL taken apart, with user, password and vhost percent-decoded. */
export interface BrokerAddress {
  protocol: "amqp" | "amqps";
  hostname: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  /** Query parameters (heartbeat, frameMax, channelMax, …) as given. */
  query: Record<string, string>;
  /** The URL with the password replaced by `***`: safe to print. */
  display: string;
}

const PERCENT_HINT =
  "percent-encode special characters in the user, password and vhost: @ → %40, : → %3A, / → %2F, # → %23, % → %25 (the default vhost / is %2F)";

/** Mask the password of any amqp URL inside a text. Never throws. */
export function maskSecrets(text: string): string {
  // Greedy up to the last "@" of the URL: an unencoded password may itself hold "@".
  return text.replace(/((?:amqps?|https?):\/\/[^:/@\s]*:)\S*@/g, "$1***@");
}

export function parseBrokerUrl(raw: string): BrokerAddress {
  const shown = maskSecrets(raw);
  if (raw.includes("#")) {
    throw new UsageError(
      `invalid broker URL ${shown}: it contains '#', which ends a URL early`,
      PERCENT_HINT,
    );
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(
      `invalid broker URL ${shown}`,
      `use amqp://user:password@host:port/vhost; ${PERCENT_HINT}`,
    );
  }
  const protocol = url.protocol.replace(/:$/, "");
  if (protocol !== "amqp" && protocol !== "amqps") {
    throw new UsageError(
      `invalid broker URL ${shown}: the scheme must be amqp:// or amqps://, not ${url.protocol}//`,
      "for example amqp://guest:guest@127.0.0.1:5672",
    );
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError(
        `invalid broker URL ${shown}: the ${what} has a bad %-escape`,
        PERCENT_HINT,
      );
    }
  };
  const path = url.pathname;
  if (path.length > 1 && path.indexOf("/", 1) !== -1) {
    throw new UsageError(
      `invalid broker URL ${shown}: the vhost part ${JSON.stringify(path.slice(1))} contains '/'`,
      PERCENT_HINT,
    );
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const username =
    url.username === "" && url.password === "" ? "guest" : decode(url.username, "user name");
  const password =
    url.username === "" && url.password === "" ? "guest" : decode(url.password, "password");
  const port = url.port === "" ? (protocol === "amqps" ? 5671 : 5672) : Number(url.port);
  return {
    protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port,
    username,
    password,
    vhost: path.length > 1 ? decode(path.slice(1), "vhost") : "/",
    query,
    display: `${protocol}://${url.username !== "" ? `${url.username}:***@` : ""}${url.host}${path.length > 1 ? path : ""}`,
  };
}

export { PERCENT_HINT };
