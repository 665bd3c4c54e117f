import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FOLDED_MARKER } from '@simple-time-service/fleet-metrics';
import { METRIC_DEFINITIONS, exportedMetricNames } from '../../../src/metrics/definitions';
import { OVERFLOW_LABEL_VALUE, createMetrics, startConsumerCountersAtZero } from '../../../src/metrics/container-metrics';

async function valueOf(metric: { get(): Promise<{ values: Array<{ value: number; labels: object }> }> }, labels: object) {
  const { values } = await metric.get();
  return values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels))?.value;
}

describe('metric definitions', () => {
  it("keeps the original service's five Kafka metrics with their exact names, types and labels", () => {
    // Prepare
    const guideMetrics = [
      ['kafka_messages_sent_total', 'counter', ['topic', 'status']],
      ['kafka_message_size_bytes', 'histogram', ['topic']],
      ['kafka_messages_received_total', 'counter', ['topic', 'event_type', 'status']],
      ['kafka_message_process_time_seconds', 'histogram', ['topic', 'event_type']],
      ['kafka_consumer_lag_ms', 'histogram', ['topic']],
    ] as const;
    // Act
    const byName = new Map(Object.values(METRIC_DEFINITIONS).map((d) => [d.name, d]));
    // Assess
    for (const [name, type, labels] of guideMetrics) {
      expect(byName.get(name)?.type).toBe(type);
      expect(byName.get(name)?.labelNames).toEqual(labels);
    }
  });

  it('has unique names, ascending buckets, and bounds only labels it declares', () => {
    // Prepare
    const definitions = Object.values(METRIC_DEFINITIONS);
    // Act
    const names = definitions.map((d) => d.name);
    // Assess
    expect(new Set(names).size).toBe(names.length);
    for (const d of definitions) {
      const buckets: readonly number[] = 'buckets' in d ? d.buckets : [];
      expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
      const bounded: readonly string[] = 'bounded' in d ? d.bounded : [];
      for (const label of bounded) expect(d.labelNames as readonly string[]).toContain(label);
    }
    expect(exportedMetricNames()).toContain('http_request_duration_seconds_bucket');
  });
});

describe('createMetrics', () => {
  it('gives each container its own registry and never touches the global one', async () => {
    // Prepare
    const globalBefore = globalRegistry.getMetricsAsArray().length;
    const a = createMetrics();
    const b = createMetrics();
    // Act
    a.kafkaMessagesSent.inc({ topic: 't', status: 'success' }, 3);
    b.kafkaMessagesSent.inc({ topic: 't', status: 'success' });
    // Assess
    expect(await valueOf(a.kafkaMessagesSent, { topic: 't', status: 'success' })).toBe(3);
    expect(await valueOf(b.kafkaMessagesSent, { topic: 't', status: 'success' })).toBe(1);
    expect(globalRegistry.getMetricsAsArray().length).toBe(globalBefore);
    expect(a.registry.getMetricsAsArray()).toHaveLength(Object.keys(METRIC_DEFINITIONS).length);
  });

  it('caps the distinct values of an outside label per container and records the rest as "other"', async () => {
    // Prepare
    const metrics = createMetrics({ maxLabelValues: 2 });
    // Act
    for (const caller of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.1']) {
      metrics.callerRequests.inc({ caller });
    }
    metrics.callerRequests.labels('10.0.0.9').inc();
    metrics.httpResponseTime.observe({ endpoint: '/a'.repeat(200), status: '200' }, 0.01);
    // Assess
    const { values } = await metrics.callerRequests.get();
    expect(Object.fromEntries(values.map((v) => [v.labels.caller, v.value]))).toEqual({
      '10.0.0.1': 2,
      '10.0.0.2': 1,
      [OVERFLOW_LABEL_VALUE]: 3,
    });
    const endpoints = (await metrics.httpResponseTime.get()).values.map((v) => String(v.labels.endpoint));
    expect(Math.max(...endpoints.map((e) => e.length))).toBeLessThanOrEqual(128);
  });

  it('leaves labels with a fixed set of values alone', async () => {
    // Prepare
    const metrics = createMetrics({ maxLabelValues: 1 });
    // Act
    metrics.kafkaMessagesSent.inc({ topic: 'a', status: 'success' });
    metrics.kafkaMessagesSent.inc({ topic: 'b', status: 'error' });
    // Assess
    const topics = (await metrics.kafkaMessagesSent.get()).values.map((v) => v.labels.topic);
    expect(topics).toEqual(['a', 'b']);
  });
});

describe('released metrics', () => {
  it('never change type: the Pushgateway runs with --push.disable-consistency-check, and one push of another type would break its scrape for every group', () => {
    // Prepare: every metric released so far, with its type. Add new ones; never edit a line.
    const released: Record<string, string> = {
      kafka_messages_sent_total: 'counter',
      kafka_message_size_bytes: 'histogram',
      kafka_messages_received_total: 'counter',
      kafka_message_process_time_seconds: 'histogram',
      kafka_consumer_lag_ms: 'histogram',
      http_requests_total: 'counter',
      http_request_duration_seconds: 'histogram',
      caller_requests_total: 'counter',
      http_response_time_seconds: 'histogram',
      error_events_total: 'counter',
      commands_total: 'counter',
      dead_letters_total: 'counter',
      duplicates_suppressed_total: 'counter',
      pushgateway_pushes_total: 'counter',
      metrics_function_tasks_total: 'counter',
      kafka_consumergroup_lag: 'gauge',
      metrics_retired_group_push_time_seconds: 'gauge',
      build_info: 'gauge',
    };
    // Act
    const current = Object.fromEntries(Object.values(METRIC_DEFINITIONS).map((d) => [d.name, d.type]));
    // Assess
    for (const [name, type] of Object.entries(current)) {
      if (name in released) expect(`${name} ${type}`).toBe(`${name} ${released[name]}`);
    }
    expect(Object.keys(current).filter((name) => !(name in released))).toEqual([]);
    expect(released[FOLDED_MARKER]).toBe('gauge');
  });
});

describe('series that start at 0', () => {
  it('has every push outcome at 0 and build_info at 1 in a new registry', async () => {
    // Act
    const text = await createMetrics().registry.metrics();
    // Assess
    for (const outcome of ['success', 'error', 'timeout']) expect(text).toContain(`pushgateway_pushes_total{outcome="${outcome}"} 0`);
    expect(text).toMatch(/^build_info\{version="[^"]+",commit="[^"]+"\} 1$/m);
  });

  it("has a consumer's duplicates at 0 per event type it alone handles, and error events at 0 where it handles them", async () => {
    // Prepare
    const onError = createMetrics();
    const catchAll = createMetrics();
    // Act
    startConsumerCountersAtZero(onError, { topic: 'events', eventTypes: ['error'] });
    startConsumerCountersAtZero(catchAll, { topic: 'commands', eventTypes: undefined });
    // Assess
    const errorText = await onError.registry.metrics();
    expect(errorText).toContain('duplicates_suppressed_total{topic="events",event_type="error"} 0');
    expect(errorText).toMatch(/^error_events_total 0$/m);
    const catchAllText = await catchAll.registry.metrics();
    expect(catchAllText).toContain('duplicates_suppressed_total{topic="commands"} 0');
    expect(catchAllText).not.toMatch(/^error_events_total/m);
  });
});
