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
    scenario:
      "single active consumer: a busy active consumer (prefetch 1) holds the queue back; after its cancel the next one gets the rest",
    path: "readyAfterCancel",
    reason:
      "RabbitMQ 3.10 classic queues do not deliver when basic.cancel hands a single-active-consumer queue to the next consumer: ready messages wait for the next delivery trigger, and if that is a publish the queue process crashes (badmatch in rabbit_amqqueue_process:attempt_delivery) and restarts, losing its transient messages and cancelling its consumers. The embedded broker delivers to the new active consumer at once, as quorum queues do",
  },
  {
    scenario:
      "x-consumer-timeout (a RabbitMQ 3.12 queue argument) is accepted; RabbitMQ 3.10 ignores it",
    path: "closed/text",
    reason:
      "an extension: the embedded broker implements the per-queue x-consumer-timeout as RabbitMQ 3.12+ documents it (it replaces consumer_timeout for that queue's deliveries), so the text names the queue's 500 ms where RabbitMQ 3.10 ignores the argument and uses its consumer_timeout of 1000 ms",
  },
  {
    scenario: "stream declare-ok: the message count after publishing (RabbitMQ's lags)",
    path: "afterPublish/0",
    reason:
      "RabbitMQ 3.10 answers a stream's queue.declare-ok with its queue statistics, refreshed every few seconds (collect_statistics_interval), so right after publishing it still says 0; the embedded broker counts the messages the stream holds now, which is what RabbitMQ says once its statistics catch up",
  },
  {
    scenario:
      "trace: a publish and its delivery to a consumer; publish.<exchange> first, then deliver.<queue>, with the original properties as a table",
    path: "trace/0/headers/routed_queues",
    reason:
      "not a tracing difference: the embedded broker does not route by the CC header (RabbitMQ's sender-selected distribution), so the message does not reach the CC queue and the trace names only the queue of its routing key; the trace's routing_keys do list the CC key, as RabbitMQ's",
  },
];
