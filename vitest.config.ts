import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // RabbitMQ-tier files share one broker; keep files in one worker pool but
    // give every test its own uniquely named objects.
    pool: "forks",
  },
});
