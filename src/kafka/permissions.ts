/**
 * A broker's authorization error in IAM's words. MSK with IAM access control (and the local
 * stack in its authorizing mode) answers a call the caller's role does not allow with
 * Kafka's own codes: TOPIC_, GROUP_, CLUSTER_ or TRANSACTIONAL_ID_AUTHORIZATION_FAILED. The
 * code says which kind of resource was refused; the call says what was attempted on it;
 * together they name the `kafka-cluster:*` action the role lacks, as AWS lists them
 * (docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html), for the log line
 * that says what to add to the role.
 */
import { ServiceError } from '../errors';

/** What a call needs: an action on a resource, e.g. kafka-cluster:WriteData on `topic requests`. */
export interface NeededPermission {
  action: string;
  /** `topic <name>`, `group <name>`, `transactional-id <id>` or `the cluster`. */
  resource: string;
}

const REFUSED: Record<string, 'topic' | 'group' | 'cluster' | 'transactional-id'> = {
  TOPIC_AUTHORIZATION_FAILED: 'topic',
  GROUP_AUTHORIZATION_FAILED: 'group',
  CLUSTER_AUTHORIZATION_FAILED: 'cluster',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'transactional-id',
};

/** The broker's authorization error code in an error or the errors it wraps (kafkajs: `type`). */
export function authorizationCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 6; depth++) {
    const e = current as Error & { type?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof e.type === 'string' && e.type in REFUSED) return e.type;
    current = e.originalError ?? e.cause;
  }
  return undefined;
}

function kindOf(resource: string): string {
  return resource === 'the cluster' ? 'cluster' : resource.split(' ')[0]!;
}

/**
 * The permission a refused call lacks (`kafka-cluster:WriteData on topic requests`; several
 * resources of one kind, any of which the broker may have refused, joined with "or"), or
 * undefined when the error is no authorization error.
 */
export function missingPermission(error: unknown, needs: readonly NeededPermission[]): string | undefined {
  const code = authorizationCode(error);
  if (code === undefined) return undefined;
  const kind = REFUSED[code]!;
  const matching = needs.filter((n) => kindOf(n.resource) === kind);
  if (matching.length === 0)
    return `a kafka-cluster permission on a ${kind === 'cluster' ? 'cluster' : kind} (the broker answered ${code})`;
  const actions = [...new Set(matching.map((n) => n.action))];
  return actions
    .map(
      (action) =>
        `${action} on ${matching
          .filter((n) => n.action === action)
          .map((n) => n.resource)
          .join(' or ')}`,
    )
    .join(', or ');
}

/** A call the broker refused because the caller's role lacks a permission; the message names it. */
export class KafkaPermissionError extends ServiceError {
  constructor(
    readonly missing: string,
    readonly code: string,
    options: { cause?: unknown } = {},
  ) {
    super(`the role lacks ${missing}: the broker answered ${code}`, options);
  }
}

/**
 * kafkajs looks a group's coordinator up itself and keeps the broker's answer to that
 * lookup: a role without kafka-cluster:DescribeGroup on the group gets
 * GROUP_AUTHORIZATION_FAILED, which kafkajs reports as "Failed to find group coordinator",
 * as it reports a coordinator not available yet. Named with both causes.
 */
export class GroupCoordinatorError extends ServiceError {
  constructor(
    readonly group: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      `no coordinator found for group ${group}: the broker names none to a role without kafka-cluster:DescribeGroup on group ${group} ` +
        '(GROUP_AUTHORIZATION_FAILED, which kafkajs does not pass on), or it is not available yet',
      options,
    );
  }
}

function coordinatorNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'KafkaJSGroupCoordinatorNotFound';
}

/**
 * Runs `call`; an authorization error becomes a KafkaPermissionError naming what `needs`
 * lacks, a group coordinator kafkajs could not find a GroupCoordinatorError for `needs`' group.
 */
export async function naming<T>(needs: readonly NeededPermission[], call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const group = needs.find((n) => kindOf(n.resource) === 'group');
    if (group && coordinatorNotFound(error)) throw new GroupCoordinatorError(group.resource.slice('group '.length), { cause: error });
    const missing = missingPermission(error, needs);
    if (missing === undefined) throw error;
    throw new KafkaPermissionError(missing, authorizationCode(error)!, { cause: error });
  }
}
