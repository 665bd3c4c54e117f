/**
 * prom-client's classes, loaded file by file. Its index also loads the default process
 * metrics (and with them @opentelemetry/api) and Summary (tdigest, bintrees), which this
 * service does not use: loading only these keeps every bundle
 * about 40 KB smaller. The types are the package's own declarations.
 */
import type * as PromClient from 'prom-client';

/* eslint-disable @typescript-eslint/no-require-imports -- deep CommonJS paths the package's types do not describe; each is typed from its own declaration */
export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
export const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram;
/* eslint-enable @typescript-eslint/no-require-imports */

export type Registry = PromClient.Registry;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
