import { readFileSync } from "node:fs";
import {
  context,
  type Histogram,
  metrics,
  ProxyTracerProvider,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

/** The API's own no-op provider: what the global provider delegates to until an SDK is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether an OpenTelemetry SDK is registered (ours, from `tracing.otlp`, or the user's own): without
 * one, the gateway starts no span and reads no trace context — one comparison per request.
 */
export function tracingOn(): boolean {
  return (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() !== NOOP_PROVIDER;
}

let cachedTracer: Tracer | undefined;
export function tracer(): Tracer {
  cachedTracer ??= trace.getTracer("switchyard", pkg.version);
  return cachedTracer;
}

/** The MCP metrics, made again when the global meter provider changes (an SDK registered after start). */
let instruments: { provider: unknown; operation: Histogram; session: Histogram } | undefined;

function mcpInstruments(): { operation: Histogram; session: Histogram } {
  const provider = metrics.getMeterProvider();
  if (instruments?.provider === provider) return instruments;
  const meter = provider.getMeter("switchyard", pkg.version);
  instruments = {
    provider,
    operation: meter.createHistogram("mcp.server.operation.duration", {
      unit: "s",
      description: "Duration of an MCP request or notification as the gateway served it.",
      advice: { explicitBucketBoundaries: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300] },
    }),
    session: meter.createHistogram("mcp.server.session.duration", {
      unit: "s",
      description: "Duration of an MCP session, from its creation to its end (DELETE), as the gateway saw it.",
      advice: { explicitBucketBoundaries: [0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 14400] },
    }),
  };
  return instruments;
}

/** `mcp.server.operation.duration` (seconds), by the MCP semantic conventions. */
export function operationHistogram(): Histogram {
  return mcpInstruments().operation;
}

/** `mcp.server.session.duration` (seconds): a legacy session from its creation to its DELETE. */
export function sessionHistogram(): Histogram {
  return mcpInstruments().session;
}

export interface OtlpSettings {
  /** The collector's base URL, e.g. `http://otel-collector:4318` (`/v1/traces` and `/v1/metrics` are added). */
  endpoint: string;
  headers: Record<string, string>;
  sampleRatio: number;
  serviceName: string;
  metricsInterval: number;
}

/**
 * Start the OpenTelemetry SDK with the OTLP/HTTP exporters (`tracing.otlp`): spans sampled at
 * `sampleRatio` (a client's sampled trace is kept whatever the ratio: parent-based), metrics every
 * `metricsInterval`, W3C trace context and baggage as the propagators. Loaded only when configured.
 */
export async function startOtlp(settings: OtlpSettings): Promise<{ shutdown(): Promise<void> }> {
  const [{ BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler }, traces] =
    await Promise.all([import("@opentelemetry/sdk-trace-base"), import("@opentelemetry/exporter-trace-otlp-http")]);
  const [{ MeterProvider, PeriodicExportingMetricReader }, metricsExporter, { resourceFromAttributes }, core] =
    await Promise.all([
      import("@opentelemetry/sdk-metrics"),
      import("@opentelemetry/exporter-metrics-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/core"),
    ]);
  const resource = resourceFromAttributes({ "service.name": settings.serviceName, "service.version": pkg.version });
  const base = settings.endpoint.replace(/\/+$/, "");
  const tracerProvider = new BasicTracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    // Large batches: at thousands of requests a second, fewer and fuller exports.
    spanProcessors: [
      new BatchSpanProcessor(new traces.OTLPTraceExporter({ url: `${base}/v1/traces`, headers: settings.headers }), {
        maxQueueSize: 16_384,
        maxExportBatchSize: 2048,
        scheduledDelayMillis: 1000,
      }),
    ],
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new metricsExporter.OTLPMetricExporter({ url: `${base}/v1/metrics`, headers: settings.headers }),
        exportIntervalMillis: settings.metricsInterval,
      }),
    ],
  });
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  propagation.setGlobalPropagator(
    new core.CompositePropagator({
      propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()],
    }),
  );
  cachedTracer = undefined;
  return {
    async shutdown() {
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

/**
 * A span of `switchyard/ha`'s own (the forward hop to a session's owner, an adoption), child of the
 * trace the request carries (its `traceparent`), with the context to hand on; undefined without an SDK.
 */
export function haSpan(
  name: string,
  kind: "client" | "internal",
  incoming: Record<string, string | string[] | undefined>,
  attributes: Record<string, string | number>,
): { headers: Record<string, string>; end(error?: string): void } | undefined {
  if (!tracingOn()) return undefined;
  const parent = propagation.extract(context.active(), incoming);
  const span = tracer().startSpan(
    name,
    { kind: kind === "client" ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes },
    parent,
  );
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), headers);
  return {
    headers,
    end: (error) => endSpan(span, error),
  };
}

/** End a span; with `error`, as failed (`error.type` and status ERROR, as the conventions ask). */
export function endSpan(span: Span, error?: string): void {
  if (error !== undefined) {
    span.setAttribute("error.type", error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  }
  span.end();
}
