/** The --web flags of `play` and `broker`: light, so that a command's definition may load it. */

export interface WebFlags {
  /** Serve the web view. */
  web: boolean;
  /** Its port (0: a free one). */
  webPort: number;
  /** Open a browser on it (--no-open turns it off). */
  open: boolean;
}

export const WEB_HELP = {
  web: "serve a live web view of the topology and the message flow on 127.0.0.1 (its URL on stderr), and open it in a browser",
  webPort: "the web view's port (default 0: a free one)",
  noOpen: "with --web: print the web view's URL, do not open a browser",
} as const;
