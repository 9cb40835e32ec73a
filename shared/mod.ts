/**
 * Shared building blocks of every Vigil service: event schemas, config,
 * Redis key names, logging, lifecycle, metrics and the ops server.
 *
 * @module
 */
export {
  type AnyEvent,
  entityOf,
  EVENT_SCHEMAS,
  EVENT_TYPES,
  type EventOf,
  type EventType,
  formatZodError,
  isEventType,
  LOG_LEVELS,
  type LogEvent,
  logEventSchema,
  type MetricEvent,
  metricEventSchema,
  parseEvent,
  type ParseResult,
  timestampSchema,
  TOPICS,
  TRANSACTION_STATUSES,
  type TransactionEvent,
  transactionEventSchema,
  type TransactionStatus,
} from "./schemas/event.ts";
export {
  type DeadLetter,
  deadLetterSchema,
  fieldsToObject,
  type StreamEntry,
  streamEntrySchema,
} from "./schemas/stream.ts";
export {
  type Alert,
  alertSchema,
  type Evidence,
  evidenceSchema,
  SEVERITIES,
  type Severity,
  stagesSchema,
} from "./schemas/alert.ts";
export {
  boolVar,
  brokerListVar,
  commonEnv,
  ConfigError,
  configOrExit,
  durationVar,
  KAFKA_BROKERS_FILE,
  kafkaEnv,
  parseEnv,
  portVar,
  resolveKafkaBrokers,
  urlVar,
} from "./config.ts";
export { createKeys, GROUPS, type Keys } from "./keys.ts";
export {
  createLogger,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  redact,
  silentLogger,
} from "./log.ts";
export {
  backoffMs,
  createLifecycle,
  type Lifecycle,
  type LifecycleOptions,
  sleep,
  withTimeout,
} from "./lifecycle.ts";
export {
  Counter,
  Gauge,
  Histogram,
  LATENCY_BUCKETS,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
} from "./metrics.ts";
export {
  type HealthCheck,
  type OpsServer,
  type OpsServerOptions,
  runHealthChecks,
  serveOps,
} from "./ops_server.ts";
export { createRedis, type Redis, type RedisOptions } from "./redis.ts";
export { createKafka, type Kafka, type KafkaOptions } from "./kafka.ts";
export {
  type AttributeValue,
  childOf,
  createTracer,
  formatTraceparent,
  newSpanId,
  newTraceId,
  newTraceparent,
  noopTracer,
  parseTraceparent,
  type Span,
  type SpanKind,
  type StartSpanOptions,
  type TraceContext,
  traceFields,
  traceIdOf,
  type Tracer,
  type TracerOptions,
  type TracerStats,
  tracingEnv,
  tracingOptions,
} from "./tracing.ts";
