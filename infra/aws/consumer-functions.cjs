'use strict';
/**
 * serverless.yml's Kafka-triggered functions, derived from the consumer table
 * (src/consumers/functions.ts) so the table is their one source: each function's entry
 * (handlers/on-<name>.ts), role, msk event (topic, consumer group, batch size, filter on
 * value.event_type unless it is its topic's catch-all) and the settings every msk event
 * shares (custom.mskEvent, custom.kafkaEventSourceMapping). serverless.yml loads
 * `${file(./infra/aws/consumer-functions.cjs):functions}` and `...:consumerGroups`.
 *
 * Plain CommonJS: serverless requires it while it resolves variables; the table is
 * TypeScript, so it is transpiled (esbuild, types only dropped) when loaded.
 */
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { transformSync } = require('esbuild');

const TABLE = path.join(__dirname, '../../src/consumers/functions.ts');

function loadTable(file = TABLE) {
  const { code } = transformSync(readFileSync(file, 'utf8'), { loader: 'ts', format: 'cjs', sourcefile: file });
  const table = new Module(file);
  table.filename = file;
  table.paths = Module._nodeModulePaths(path.dirname(file));
  table._compile(code, file);
  return table.exports;
}

const capitalized = (name) => name.charAt(0).toUpperCase() + name.slice(1);
const kebab = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const topicParam = (topic) => `\${param:topic${capitalized(topic)}}`;
const groupParam = (fn) => `\${param:consumerGroup}-${fn.groupSuffix}`;

/** One function of serverless.yml for one row of the table. */
function consumerFunction(fn, filterPatterns) {
  const patterns = filterPatterns(fn);
  return {
    handler: `handlers/${kebab(fn.name)}.handler`,
    description: fn.description,
    role: `${capitalized(fn.name)}LambdaRole`,
    memorySize: 256,
    timeout: 30,
    events: [
      {
        msk: {
          arn: '${self:custom.mskEvent.arn}',
          topic: topicParam(fn.topic),
          consumerGroupId: groupParam(fn),
          batchSize: fn.batchSize,
          // The framework leaves 0 out, so AWS applies its Kafka default of 500 ms.
          maximumBatchingWindow: 0,
          startingPosition: '${self:custom.mskEvent.startingPosition}',
          provisionedPollerConfig: '${self:custom.mskEvent.provisionedPollerConfig}',
          functionResponseTypes: '${self:custom.kafkaEventSourceMapping.functionResponseTypes}',
          maximumRetryAttempts: '${self:custom.kafkaEventSourceMapping.maximumRetryAttempts}',
          maximumRecordAgeInSeconds: '${self:custom.kafkaEventSourceMapping.maximumRecordAgeInSeconds}',
          destinations: '${self:custom.kafkaEventSourceMapping.destinations}',
          ...(patterns ? { filterPatterns: patterns } : {}),
        },
      },
    ],
  };
}

/** The consumer functions, by name (serverless calls it with its resolver's context, unused). */
function functions() {
  const table = loadTable();
  return Object.fromEntries(table.CONSUMER_FUNCTIONS.map((fn) => [fn.name, consumerFunction(fn, table.filterPatterns)]));
}

/** Every consumer function's consumer group (the metrics function describes them for lag). */
function consumerGroups() {
  return loadTable().CONSUMER_FUNCTIONS.map(groupParam);
}

module.exports = { functions, consumerGroups, loadTable };
