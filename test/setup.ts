/**
 * Runs before every test file: each test must assert something that could fail. A test that
 * ends without one fails with "expected any number of assertion, but got none".
 */
import { beforeEach, expect } from "vitest";

beforeEach(() => {
  expect.hasAssertions();
});
