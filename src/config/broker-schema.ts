/**
 * The config's `broker:` section: where the broker is, how to reach it (TLS, SASL), and how
 * to come back when it goes away. Flags of the same names override each field.
 */
import { z } from "zod";
import { DEFAULT_URL } from "./constants.js";
import { amqpUrl, bool, durationSchema, text, URL_EXAMPLE, wholeNumber } from "./schema-fields.js";

const tlsSchema = z
  .strictObject({
    ca: text().optional().meta({ description: "PEM file of the CA(s) to trust (--ca)" }),
    cert: text().optional().meta({ description: "PEM file of the client certificate (--cert)" }),
    key: text()
      .optional()
      .meta({ description: "PEM file of the client certificate's private key (--cert-key)" }),
    passphrase: text().optional().meta({ description: "Passphrase of the private key" }),
    servername: text()
      .optional()
      .meta({ description: "Name to check the broker's certificate against (SNI)" }),
    insecure: bool()
      .optional()
      .meta({ description: "Do not verify the broker's certificate: for tests only" }),
  })
  .meta({ description: "TLS for amqps:// URLs; relative paths are from the config file" });

const reconnectSchema = z
  .strictObject({
    attempts: z
      .union([wholeNumber(0), z.literal("forever")], {
        error: 'expected a whole number ≥ 0 or "forever"',
      })
      .optional()
      .meta({ description: "Tries after a lost connection (0: none); default 10" }),
    timeout: durationSchema
      .optional()
      .meta({ description: "Give up when no connection is back after this long; default 60s" }),
  })
  .meta({ description: "Connecting again when the broker goes away" });

export const brokerSchema = z
  .strictObject({
    url: z
      .union([amqpUrl, z.array(amqpUrl).min(1, "give at least one URL")], {
        error: `expected an amqp:// URL or a list of them, such as ${URL_EXAMPLE}`,
      })
      .default(DEFAULT_URL)
      .meta({
        description:
          "Broker URL, or a list of URLs tried in order (the nodes of a cluster). --url and EVENTLAB_URL take precedence",
      }),
    shuffle: bool()
      .optional()
      .meta({ description: "Try the URLs in a random order (--shuffle-urls)" }),
    heartbeat: wholeNumber(0, 65535)
      .optional()
      .meta({ description: "Heartbeat in seconds (0 turns it off); default 10" }),
    connectTimeout: durationSchema
      .optional()
      .meta({ description: "How long to wait for the connection: 5s, 500ms, …" }),
    api: z.string().optional().meta({
      description:
        "The management HTTP API (list, peek, purge, topology diff's bindings): http://host:15672 by default, from the url's host and user; --api takes precedence",
    }),
    reconnect: reconnectSchema.optional(),
    tls: tlsSchema.optional(),
    auth: z.enum(["plain", "external"], { error: "expected plain or external" }).optional().meta({
      description:
        "SASL mechanism: plain (the URL's user and password) or external (the client certificate)",
    }),
  })
  .meta({ description: "Where the broker is" });
