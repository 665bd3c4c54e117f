/**
 * Kafka ACLs from IAM policies. On MSK with IAM access control, what a client may do on the
 * cluster is what its role's `kafka-cluster:*` statements allow; the local broker
 * (KRaft's StandardAuthorizer) enforces the same through ACLs made from those very
 * statements, one principal per function. AWS documents each action as the equivalent of
 * one Apache Kafka ACL operation on one resource type, and lists the actions each one
 * requires ("Semantics of IAM authorization policy actions and resources",
 * https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html): the table
 * below is that page's. The resources are ARNs of the cluster and of its topics, groups
 * and transactional ids (same page, "Authorization policy resources").
 *
 * Two things Kafka ACLs do differently, handled here:
 * - Kafka lets READ, WRITE, DELETE and ALTER imply DESCRIBE (and ALTER_CONFIGS imply
 *   DESCRIBE_CONFIGS); IAM does not: an action is granted only with its required actions.
 *   So an action whose required actions are not granted gets no ACL (its calls then fail
 *   on the local broker as they would on MSK), and a note says which is missing.
 * - Kafka accepts an idempotent producer's InitProducerId with WRITE on any topic, where MSK
 *   wants kafka-cluster:WriteDataIdempotently: a policy with WriteData and without it is
 *   noted, as the local broker cannot refuse what MSK would.
 */

export type ResourceKind = 'cluster' | 'topic' | 'group' | 'transactional-id';
export type KafkaOperation =
  'READ' | 'WRITE' | 'CREATE' | 'DELETE' | 'ALTER' | 'DESCRIBE' | 'DESCRIBE_CONFIGS' | 'ALTER_CONFIGS' | 'IDEMPOTENT_WRITE';

interface ActionSemantics {
  /** The Kafka ACL operation it is "equivalent to"; none for Connect (authentication itself). */
  operation: KafkaOperation | undefined;
  resource: ResourceKind;
  /** Its "Required actions" (besides Connect, which every action requires). */
  requires: string[];
}

/** AWS's table, action by action (kafka-actions.html). */
export const KAFKA_CLUSTER_ACTIONS: Readonly<Record<string, ActionSemantics>> = {
  'kafka-cluster:Connect': { operation: undefined, resource: 'cluster', requires: [] },
  'kafka-cluster:DescribeCluster': { operation: 'DESCRIBE', resource: 'cluster', requires: [] },
  'kafka-cluster:AlterCluster': { operation: 'ALTER', resource: 'cluster', requires: ['kafka-cluster:DescribeCluster'] },
  'kafka-cluster:DescribeClusterDynamicConfiguration': { operation: 'DESCRIBE_CONFIGS', resource: 'cluster', requires: [] },
  'kafka-cluster:AlterClusterDynamicConfiguration': {
    operation: 'ALTER_CONFIGS',
    resource: 'cluster',
    requires: ['kafka-cluster:DescribeClusterDynamicConfiguration'],
  },
  'kafka-cluster:WriteDataIdempotently': { operation: 'IDEMPOTENT_WRITE', resource: 'cluster', requires: ['kafka-cluster:WriteData'] },
  'kafka-cluster:CreateTopic': { operation: 'CREATE', resource: 'topic', requires: [] },
  'kafka-cluster:DescribeTopic': { operation: 'DESCRIBE', resource: 'topic', requires: [] },
  'kafka-cluster:AlterTopic': { operation: 'ALTER', resource: 'topic', requires: ['kafka-cluster:DescribeTopic'] },
  'kafka-cluster:DeleteTopic': { operation: 'DELETE', resource: 'topic', requires: ['kafka-cluster:DescribeTopic'] },
  'kafka-cluster:DescribeTopicDynamicConfiguration': { operation: 'DESCRIBE_CONFIGS', resource: 'topic', requires: [] },
  'kafka-cluster:AlterTopicDynamicConfiguration': {
    operation: 'ALTER_CONFIGS',
    resource: 'topic',
    requires: ['kafka-cluster:DescribeTopicDynamicConfiguration'],
  },
  'kafka-cluster:ReadData': { operation: 'READ', resource: 'topic', requires: ['kafka-cluster:DescribeTopic', 'kafka-cluster:AlterGroup'] },
  'kafka-cluster:WriteData': { operation: 'WRITE', resource: 'topic', requires: ['kafka-cluster:DescribeTopic'] },
  'kafka-cluster:DescribeGroup': { operation: 'DESCRIBE', resource: 'group', requires: [] },
  'kafka-cluster:AlterGroup': { operation: 'READ', resource: 'group', requires: ['kafka-cluster:DescribeGroup'] },
  'kafka-cluster:DeleteGroup': { operation: 'DELETE', resource: 'group', requires: ['kafka-cluster:DescribeGroup'] },
  'kafka-cluster:DescribeTransactionalId': { operation: 'DESCRIBE', resource: 'transactional-id', requires: [] },
  'kafka-cluster:AlterTransactionalId': {
    operation: 'WRITE',
    resource: 'transactional-id',
    requires: ['kafka-cluster:DescribeTransactionalId', 'kafka-cluster:WriteData'],
  },
};

const CONNECT = 'kafka-cluster:Connect';

/** A resource pattern as Kafka ACLs have them: a literal name (`*` is every name) or a prefix. */
export interface ResourcePattern {
  kind: ResourceKind;
  name: string;
  pattern: 'LITERAL' | 'PREFIXED';
}

export interface KafkaAcl extends ResourcePattern {
  operation: KafkaOperation;
  permission: 'ALLOW' | 'DENY';
}

/** What one role lets its principal do on the cluster. */
export interface Permissions {
  /** kafka-cluster:Connect on the cluster: without it MSK refuses the login itself. */
  connect: boolean;
  acls: KafkaAcl[];
  /** Grants left out (a required action missing) and differences the local broker cannot show. */
  notes: string[];
}

export class PolicyError extends Error {}

/** The cluster the policies are about: its ARN's prefix (`arn:…:kafka:region:account:`), name and uuid. */
export interface Cluster {
  prefix: string;
  name: string;
  uuid: string;
}

export function parseClusterArn(arn: string): Cluster {
  const match = /^(arn:aws[a-z-]*:kafka:[^:]*:[^:]*:)cluster\/([^/]+)\/([^/]+)$/.exec(arn);
  if (!match) throw new PolicyError(`not an MSK cluster ARN: ${arn}`);
  return { prefix: match[1]!, name: match[2]!, uuid: match[3]! };
}

interface Grant extends ResourcePattern {
  action: string;
}

function asList(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** IAM's glob (`*` any run, `?` one character), case-insensitive as action names are. */
function globMatches(glob: string, text: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`, 'i').test(text);
}

/** The kafka-cluster actions an Action element names (wildcards expanded against AWS's list). */
export function expandActions(actions: readonly string[]): string[] {
  const known = Object.keys(KAFKA_CLUSTER_ACTIONS);
  return known.filter((action) => actions.some((glob) => globMatches(glob, action)));
}

/**
 * The Kafka resource pattern of one Resource ARN for a resource kind, or undefined when the
 * ARN names another kind or another cluster. A `*` at the end of the name is a prefix (a
 * name of `*` alone is every name); anywhere else it cannot be written as a Kafka ACL.
 */
export function resourcePattern(arn: string, kind: ResourceKind, cluster: Cluster): ResourcePattern | undefined {
  if (arn === '*') return { kind, name: kind === 'cluster' ? 'kafka-cluster' : '*', pattern: 'LITERAL' };
  if (!arn.startsWith(cluster.prefix)) return undefined;
  const rest = arn.slice(cluster.prefix.length);
  if (!rest.startsWith(`${kind}/`)) return undefined;
  const path = rest.slice(kind.length + 1);
  const own = `${cluster.name}/${cluster.uuid}`;
  if (kind === 'cluster') {
    if (path === own || (path.endsWith('*') && own.startsWith(path.slice(0, -1)) && !path.slice(0, -1).includes('*'))) {
      return { kind, name: 'kafka-cluster', pattern: 'LITERAL' };
    }
    if (!path.includes('*')) return undefined;
    throw new PolicyError(`${arn}: a wildcard there cannot be written as a Kafka ACL`);
  }
  const star = path.indexOf('*');
  if (star < 0) return path.startsWith(`${own}/`) ? { kind, name: path.slice(own.length + 1), pattern: 'LITERAL' } : undefined;
  if (star !== path.length - 1 || path.includes('?'))
    throw new PolicyError(`${arn}: a wildcard anywhere but at the end cannot be written as a Kafka ACL`);
  const before = path.slice(0, -1);
  if (`${own}/`.startsWith(before)) return { kind, name: '*', pattern: 'LITERAL' };
  if (!before.startsWith(`${own}/`)) return undefined;
  const prefix = before.slice(own.length + 1);
  return { kind, name: prefix, pattern: 'PREFIXED' };
}

/** The grants of one policy's statements for kafka-cluster actions, allowed and denied. */
function grantsOf(statements: readonly unknown[], cluster: Cluster, where: string): { allow: Grant[]; deny: Grant[] } {
  const allow: Grant[] = [];
  const deny: Grant[] = [];
  statements.forEach((raw, index) => {
    const at = `${where}: statement ${index + 1}`;
    if (typeof raw !== 'object' || raw === null) throw new PolicyError(`${at}: not an object`);
    const statement = raw as Record<string, unknown>;
    const named = asList(statement.Action).filter((a): a is string => typeof a === 'string');
    const actions = expandActions(named.filter((a) => a === '*' || a.toLowerCase().startsWith('kafka-cluster:')));
    for (const field of ['NotAction', 'NotResource', 'Condition']) {
      if (statement[field] !== undefined && (actions.length > 0 || field === 'NotAction')) {
        throw new PolicyError(`${at}: ${field} cannot be written as Kafka ACLs; use Action and Resource`);
      }
    }
    if (actions.length === 0) return;
    const resources = asList(statement.Resource);
    for (const resource of resources) {
      if (typeof resource !== 'string')
        throw new PolicyError(
          `${at}: Resource ${JSON.stringify(resource)} is not a plain ARN (the local stage's policies are plain strings)`,
        );
    }
    const into = statement.Effect === 'Deny' ? deny : allow;
    for (const action of actions) {
      const kind = KAFKA_CLUSTER_ACTIONS[action]!.resource;
      for (const resource of resources as string[]) {
        const pattern = resourcePattern(resource, kind, cluster);
        if (pattern) into.push({ action, ...pattern });
      }
    }
  });
  return { allow, deny };
}

/** Whether pattern `outer` covers every name `inner` covers (same kind). */
function covers(outer: ResourcePattern, inner: ResourcePattern): boolean {
  if (outer.kind !== inner.kind) return false;
  if (outer.pattern === 'LITERAL') return outer.name === '*' || (inner.pattern === 'LITERAL' && outer.name === inner.name);
  return inner.name.startsWith(outer.name) && !(inner.pattern === 'LITERAL' && inner.name === '*');
}

function describeGrant(g: Grant): string {
  const name = g.kind === 'cluster' ? 'the cluster' : `${g.kind} ${g.pattern === 'PREFIXED' ? `${g.name}*` : g.name}`;
  return `${g.action} on ${name}`;
}

/**
 * Keeps the grants whose required actions are granted too (on the same resource when the
 * requirement is of the same kind, on some resource otherwise), until nothing changes.
 */
function withRequirements(grants: Grant[], notes: string[]): Grant[] {
  let kept = grants;
  for (;;) {
    const next = kept.filter((g) => {
      const missing = KAFKA_CLUSTER_ACTIONS[g.action]!.requires.find((required) => {
        const kind = KAFKA_CLUSTER_ACTIONS[required]!.resource;
        return !kept.some((other) => other.action === required && (kind !== g.kind || covers(other, g)));
      });
      if (missing !== undefined) notes.push(`${describeGrant(g)} is left out: AWS requires ${missing} with it`);
      return missing === undefined;
    });
    if (next.length === kept.length) return kept;
    kept = next;
  }
}

function dedupe(acls: KafkaAcl[]): KafkaAcl[] {
  const seen = new Map<string, KafkaAcl>();
  for (const acl of acls) seen.set(JSON.stringify([acl.kind, acl.name, acl.pattern, acl.operation, acl.permission]), acl);
  return [...seen.values()];
}

/** What the statements of one IAM policy let its principal do on `clusterArn`, as Kafka ACLs. */
export function permissionsFromStatements(statements: readonly unknown[], clusterArn: string, where = 'policy'): Permissions {
  const cluster = parseClusterArn(clusterArn);
  const { allow, deny } = grantsOf(statements, cluster, where);
  const notes: string[] = [];
  const connect = allow.some((g) => g.action === CONNECT) && !deny.some((g) => g.action === CONNECT);
  if (!connect) {
    if (allow.length > 0) notes.push(`no ${CONNECT} on the cluster: MSK refuses the login itself, so nothing else counts`);
    return { connect, acls: [], notes };
  }
  const effective = withRequirements(allow, notes);
  const writes = effective.some((g) => g.action === 'kafka-cluster:WriteData');
  if (writes && !effective.some((g) => g.action === 'kafka-cluster:WriteDataIdempotently')) {
    notes.push(
      'kafka-cluster:WriteData without kafka-cluster:WriteDataIdempotently: an idempotent producer fails on MSK; the local broker lets it through (WRITE on a topic is enough for Kafka)',
    );
  }
  const acl = (g: Grant, permission: KafkaAcl['permission']): KafkaAcl[] => {
    const operation = KAFKA_CLUSTER_ACTIONS[g.action]!.operation;
    return operation ? [{ kind: g.kind, name: g.name, pattern: g.pattern, operation, permission }] : [];
  };
  return { connect, acls: dedupe([...effective.flatMap((g) => acl(g, 'ALLOW')), ...deny.flatMap((g) => acl(g, 'DENY'))]), notes };
}

/** The statements of every policy of an `AWS::IAM::Role` resource (inline `Policies`). */
export function roleStatements(role: unknown, where: string): unknown[] {
  const properties = (role as { Type?: unknown; Properties?: { Policies?: unknown } } | undefined)?.Properties;
  if ((role as { Type?: unknown } | undefined)?.Type !== 'AWS::IAM::Role' || !properties)
    throw new PolicyError(`${where}: not an AWS::IAM::Role`);
  const policies = asList(properties.Policies) as Array<{ PolicyDocument?: { Statement?: unknown } }>;
  return policies.flatMap((p) => asList(p.PolicyDocument?.Statement));
}
