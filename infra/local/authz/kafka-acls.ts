/**
 * ./acls.ts's ACLs as the admin API's ACL bindings: Kafka's protocol codes for resource
 * types, pattern types, operations and permissions (org.apache.kafka.common.acl and
 * .resource; kafkajs' enums carry the same numbers, which a unit test checks; kafkajs is
 * imported only in src/kafka).
 */
import type { KafkaAcl, KafkaOperation, ResourceKind } from './acls';

export const RESOURCE_TYPE = { ANY: 1, topic: 2, group: 3, cluster: 4, 'transactional-id': 5 } as const satisfies Record<
  ResourceKind | 'ANY',
  number
>;
export const PATTERN_TYPE = { ANY: 1, LITERAL: 3, PREFIXED: 4 } as const;
export const OPERATION = {
  ANY: 1,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
} as const satisfies Record<KafkaOperation | 'ANY', number>;
export const PERMISSION = { ANY: 1, DENY: 2, ALLOW: 3 } as const;

export interface AclBinding {
  resourceType: number;
  resourceName: string;
  resourcePatternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

export function aclBinding(principal: string, acl: KafkaAcl): AclBinding {
  return {
    resourceType: RESOURCE_TYPE[acl.kind],
    resourceName: acl.name,
    resourcePatternType: PATTERN_TYPE[acl.pattern],
    principal,
    host: '*',
    operation: OPERATION[acl.operation],
    permissionType: PERMISSION[acl.permission],
  };
}

/** Every ACL of one principal, or of every principal (describe or delete). */
export function principalFilter(principal?: string): Omit<AclBinding, 'resourceName' | 'principal' | 'host'> & { principal?: string } {
  return {
    resourceType: RESOURCE_TYPE.ANY,
    resourcePatternType: PATTERN_TYPE.ANY,
    ...(principal === undefined ? {} : { principal }),
    operation: OPERATION.ANY,
    permissionType: PERMISSION.ANY,
  };
}
