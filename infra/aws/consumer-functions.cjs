/**
 * serverless.yml's Kafka-triggered functions, derived from the consumer table
 * (src/consumers/functions.ts) so the table is their one source: each function's entry
 * (handlers/on-<name>.ts), role, msk event (topic, consumer group, batch size, filter on
 * value.event_type unless it is its topic's catch-all) and the settings every msk event
 * shares (custom.mskEvent, custom.kafkaEventSourceMapping); the topics each may write
 * (custom.consumerKafkaAccess, its row's `writes`); the groups the metrics function reads.
 * serverless.yml loads `${file(./infra/aws/consumer-functions.cjs):functions}`,
 * `...:kafkaAccess` and `...:consumerGroups`; `npx serverless print --stage dev` shows them
 * resolved.
 *
 * Plain CommonJS: serverless requires it while it resolves variables; the table is
 * TypeScript, loaded with tsx's require (its public API for requiring TypeScript from CommonJS).
 */
'use strict';
const { require: requireTypeScript } = require('tsx/cjs/api');

function loadTable() {
  return requireTypeScript('../../src/consumers/functions.ts', __filename);
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

/** custom.consumerKafkaAccess: the topics each consumer function writes, from its row (serverless-resources.cjs makes its role). */
function kafkaAccess() {
  return Object.fromEntries(loadTable().CONSUMER_FUNCTIONS.map((fn) => [fn.name, { write: fn.writes.map(topicParam) }]));
}

/** Every consumer function's consumer group (the metrics function describes them for lag). */
function consumerGroups() {
  return loadTable().CONSUMER_FUNCTIONS.map(groupParam);
}

module.exports = { functions, kafkaAccess, consumerGroups, loadTable };
