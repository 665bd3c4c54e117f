/**
 * What test/integration/package.test.ts needs beside the packaged template: a Kafka client
 * that records every cluster call the service's code makes and turns it into the IAM
 * actions MSK's IAM access control requires for it, following AWS's correspondence between
 * Kafka requests and `kafka-cluster:*` actions
 * (docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html): Metadata and
 * ListOffsets need DescribeTopic on each topic, OffsetFetch DescribeGroup on the group (and
 * DescribeTopic), CreateTopics CreateTopic, CreatePartitions AlterTopic; every call needs
 * Connect on the cluster; and a small evaluator of the CloudFormation templates in
 * infra/aws (YAML with short tags) for given parameters and imports: conditions, `!If`,
 * `!Select`, `!Split`, `!Join`, `!Sub`, `!Ref` of parameters and pseudo parameters, and which
 * resources exist.
 */
import fs from 'node:fs';
import yaml from 'js-yaml';
import { CLOUDFORMATION_SCHEMA } from '../../infra/cloudformation-yaml';
import type { Kafka } from 'kafkajs';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One IAM action on one resource: `kafka-cluster:DescribeGroup` on `group:<name>`. */
export interface KafkaPermission {
  action: string;
  /** `cluster`, `topic:<name>` or `group:<name>`. */
  resource: string;
}

/**
 * A kafkajs client whose admin answers as a cluster holding `topics` (each with
 * `partitions` partitions) and records what each call needs.
 */
export function recordingKafka(topics: Record<string, number>): { kafka: Kafka; needed: KafkaPermission[] } {
  const needed: KafkaPermission[] = [];
  const need = (action: string, resource: string) => needed.push({ action: `kafka-cluster:${action}`, resource });
  const topicsNeed = (action: string, names: readonly string[]) => names.forEach((t) => need(action, `topic:${t}`));
  const admin = {
    connect: () => {
      need('Connect', 'cluster');
      return Promise.resolve();
    },
    disconnect: () => Promise.resolve(),
    describeCluster: () => Promise.resolve({ brokers: [{ nodeId: 1, host: 'b-1.example', port: 9098 }], controller: 1, clusterId: 'c' }),
    // Metadata for every topic: MSK lists only the topics the caller may describe, so it cannot be refused.
    listTopics: () => Promise.resolve(Object.keys(topics)),
    fetchTopicMetadata: ({ topics: names }: { topics: string[] }) => {
      topicsNeed('DescribeTopic', names);
      return Promise.resolve({
        topics: names.map((name) => ({
          name,
          partitions: partitionsOf(name).map((partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1] })),
        })),
      });
    },
    fetchTopicOffsets: (topic: string) => {
      topicsNeed('DescribeTopic', [topic]);
      return Promise.resolve(partitionsOf(topic).map((partition) => ({ partition, offset: '10', high: '10', low: '0' })));
    },
    fetchOffsets: ({ groupId, topics: names }: { groupId: string; topics: string[] }) => {
      need('DescribeGroup', `group:${groupId}`);
      topicsNeed('DescribeTopic', names);
      return Promise.resolve(
        names.map((topic) => ({ topic, partitions: partitionsOf(topic).map((partition) => ({ partition, offset: '4' })) })),
      );
    },
    createTopics: ({ topics: wanted }: { topics: Array<{ topic: string; numPartitions: number }> }) => {
      topicsNeed(
        'CreateTopic',
        wanted.map((t) => t.topic),
      );
      for (const t of wanted) topics[t.topic] = t.numPartitions;
      return Promise.resolve(true);
    },
    createPartitions: ({ topicPartitions }: { topicPartitions: Array<{ topic: string; count: number }> }) => {
      topicsNeed(
        'AlterTopic',
        topicPartitions.map((t) => t.topic),
      );
      for (const t of topicPartitions) topics[t.topic] = t.count;
      return Promise.resolve(true);
    },
  };
  function partitionsOf(topic: string): number[] {
    return [...Array<number>(topics[topic] ?? 0).keys()];
  }
  // Only the admin client is used by the code under test; the cast says so.
  const kafka = { admin: () => admin } as unknown as Kafka;
  return { kafka, needed };
}

// ---- CloudFormation templates in YAML ----

/** A template with its short tags read as `{ Tag: argument }`. */
export function loadYamlTemplate(file: string): {
  Parameters: Record<string, { Default?: Json }>;
  Conditions?: Record<string, Json>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, Json>; DependsOn?: string[] }>;
} {
  return yaml.load(fs.readFileSync(file, 'utf8'), { schema: CLOUDFORMATION_SCHEMA }) as ReturnType<typeof loadYamlTemplate>;
}

const NO_VALUE = Symbol('AWS::NoValue');

/** The pseudo parameters of a stack in us-east-1 of account 123456789012. */
const PSEUDO: Record<string, string> = {
  'AWS::Region': 'us-east-1',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::AccountId': '123456789012',
};

/**
 * The template's resources as CloudFormation would make them for these parameters and
 * imports: resources whose condition is false are left out, properties evaluated.
 * Attributes of resources (GetAtt, Ref of a resource) stay as they are.
 */
export function evaluateTemplate(
  template: ReturnType<typeof loadYamlTemplate>,
  given: Record<string, Json>,
  imports: Record<string, string>,
): Record<string, { Type: string; Properties: Record<string, Json> }> {
  const parameters: Record<string, Json> = { ...PSEUDO };
  for (const [name, p] of Object.entries(template.Parameters)) parameters[name] = given[name] ?? p.Default ?? '';
  const conditions: Record<string, boolean> = {};
  const condition = (name: string): boolean => (conditions[name] ??= Boolean(value(template.Conditions?.[name] ?? false)));

  function value(node: Json): Json {
    if (Array.isArray(node)) return node.map(value).filter((v) => (v as unknown) !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const [tag, arg] = Object.entries(node)[0] ?? [];
    const args = () => (arg as Json[]).map(value);
    switch (tag) {
      case 'Ref':
      case 'Fn::Ref':
        if (arg === 'AWS::NoValue') return NO_VALUE as unknown as Json;
        if (typeof arg === 'string' && arg in parameters) {
          const p = parameters[arg]!;
          // A CommaDelimitedList parameter is a list.
          return (template.Parameters[arg] as { Type?: string } | undefined)?.Type === 'CommaDelimitedList' && typeof p === 'string'
            ? p === ''
              ? ['']
              : p.split(',')
            : p;
        }
        return node;
      case 'Sub':
      case 'Fn::Sub': {
        // `!Sub text` or `!Sub [text, { name: value }]`
        const [text, names] = typeof arg === 'string' ? [arg, {}] : (arg as [string, Record<string, Json>]);
        const values: Record<string, Json> = { ...parameters, ...(value(names) as Record<string, Json>) };
        return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
          const given = values[name];
          return typeof given === 'string' || typeof given === 'number' ? String(given) : whole;
        });
      }
      case 'ImportValue':
      case 'Fn::ImportValue': {
        const name = value(arg as Json) as string;
        if (!(name in imports)) throw new Error(`no import ${name}`);
        return imports[name]!;
      }
      case 'Join': {
        const [sep, list] = args() as [string, Json[]];
        return list.map(String).join(sep);
      }
      case 'Split': {
        const [sep, text] = args() as [string, string];
        return text.split(sep);
      }
      case 'Select': {
        const [index, list] = args() as [number | string, Json[]];
        const item = list[Number(index)];
        if (item === undefined) throw new Error(`Select ${index} of a list of ${list.length}`);
        return item;
      }
      case 'Equals': {
        const [a, b] = args();
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case 'Not':
        return !(args()[0] as boolean);
      case 'And':
        return args().every(Boolean);
      case 'Or':
        return args().some(Boolean);
      case 'Condition':
        return condition(arg as string);
      case 'If': {
        const [name, yes, no] = arg as [string, Json, Json];
        return value(condition(name) ? yes : no);
      }
      default:
        return Object.fromEntries(
          Object.entries(node)
            .map(([k, v]) => [k, value(v)] as const)
            .filter(([, v]) => (v as unknown) !== NO_VALUE),
        );
    }
  }

  const out: Record<string, { Type: string; Properties: Record<string, Json> }> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Condition !== undefined && !condition(resource.Condition)) continue;
    out[id] = { Type: resource.Type, Properties: value(resource.Properties ?? {}) as Record<string, Json> };
  }
  return out;
}
