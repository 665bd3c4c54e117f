/**
 * The service name and stage every benchmark runs the functions under. What a benchmark's
 * functions push to the local Pushgateway is grouped by them (job = SERVICE_NAME), so it
 * never mixes with the service's own series: the dashboard, the recording rules' sums and
 * the alerts of the local Prometheus select the service's job (simple-time-service) and
 * the checkout's stage. A benchmark that runs a function (through handlers/ or
 * `serverless offline`) spreads these into its configuration or environment
 * (test/unit/bench-service.test.ts holds it).
 */
export const BENCH_SERVICE = { SERVICE_NAME: 'simple-time-service-bench', STAGE: 'bench' } as const;
