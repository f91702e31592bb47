/**
 * The ONE list of accepted differences between the embedded broker and RabbitMQ 3.10.
 *
 * RabbitMQ is the ground truth (DESIGN.md, "Tests"): the embedded broker must produce the recorded
 * outcome of every scenario except at the places listed here. An entry names a scenario and,
 * optionally, a path into its outcome ("/"-separated keys and array indexes, e.g.
 * "dead/0/headers/x-death/0/time"); without a path the whole scenario is not compared.
 * Every entry says why the difference is acceptable.
 */
export interface AcceptedDifference {
  scenario: string;
  path?: string;
  reason: string;
  /** For a whole-scenario difference: the embedded broker must fail the scenario with this. */
  embeddedError?: RegExp;
}

export const DIFFERENCES: AcceptedDifference[] = [
  {
    scenario: "stream queue: declare, publish, basic.get refused, consume needs prefetch",
    reason:
      "stream queues are not implemented: the embedded broker refuses x-queue-type stream at declare with a 406 that says so (README, embedded broker)",
    embeddedError: /406 .*stream queues are not supported by the embedded broker/,
  },
];
