/**
 * A local RabbitMQ cluster from the rabbitmq-server installed on this machine, for tests and
 * the playground: start it (`clusterUp`), look at it (`clusterStatus`), stop and start one
 * node (`stopNode`, `startNode`), take it down (`clusterDown`). And certificates for TLS
 * (`generateCerts`). Nothing here writes to a terminal.
 */
export { type CertOptions, type CertSet, generateCerts } from "./certs.js";
export {
  type ClusterEvent,
  type ClusterNode,
  type ClusterRecord,
  DEFAULT_BASE_PORT,
  DEFAULT_NAME_PREFIX,
  MAX_NODES,
  type NodePhase,
  type NodePorts,
  type NodeUrls,
  nodeName,
  PORT_OFFSETS,
} from "./layout.js";
export {
  type ClusterDeps,
  type ClusterStatus,
  clusterDown,
  clusterStatus,
  DEFAULT_START_TIMEOUT_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  type DownResult,
  type NodeChange,
  type NodeState,
  type NodeStatus,
  startNode,
  stopNode,
} from "./manager.js";
export { defaultClusterDir, readRecord } from "./state.js";
export { clusterUp, TLS_CLIENT_USER, type UpOptions, type UpResult } from "./up.js";
