/**
 * Unique names for what tests create on a broker (topics, consumer groups, group
 * prefixes), remembered so that test/helpers/cleanup.ts can delete them after each test
 * file, whether its tests passed or not. No dependencies: an environment module may use
 * it before anything reads the configuration.
 */
import { randomUUID } from 'node:crypto';

const names = new Set<string>();

/** `<prefix>-<time>-<random>`, remembered for the clean-up. */
export function uniqueName(prefix: string): string {
  const name = `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  names.add(name);
  return name;
}

/**
 * Whether a topic or group name is one of this file's: a name uniqueName gave, or one
 * made from it (`<name>-requests`, a consumer group `<prefix>-http-request`).
 */
export function isOwnName(name: string): boolean {
  if (names.has(name)) return true;
  for (const own of names) if (name.startsWith(`${own}-`)) return true;
  return false;
}

export function hasOwnNames(): boolean {
  return names.size > 0;
}
