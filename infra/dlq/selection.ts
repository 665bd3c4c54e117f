/**
 * Which dead letters a command of `npm run dlq` applies to (infra/dlq.ts): by offsets in
 * the dead-letter topic, by reason, by source topic.
 */
import { DeadLetterToolError } from './dead-letters';
import type { DeadLetter } from './dead-letters';

/** Which dead letters a command applies to; every field given must match. */
export interface Selection {
  partition?: number;
  /** Inclusive offsets in the dead-letter topic (with or without `partition`). */
  fromOffset?: bigint;
  toOffset?: bigint;
  reason?: string;
  /** The topic the record came from. */
  sourceTopic?: string;
}

export function selects(selection: Selection, letter: DeadLetter): boolean {
  if (selection.partition !== undefined && letter.partition !== selection.partition) return false;
  const offset = BigInt(letter.offset);
  if (selection.fromOffset !== undefined && offset < selection.fromOffset) return false;
  if (selection.toOffset !== undefined && offset > selection.toOffset) return false;
  if (selection.reason !== undefined && letter.reason !== selection.reason) return false;
  if (selection.sourceTopic !== undefined && !letter.originals.some((o) => o.topic === selection.sourceTopic)) return false;
  return true;
}

/** Parses `<partition>:<offset>` or `<partition>:<from>-<to>` (--offsets, and show's argument). */
export function parseOffsetRange(text: string): { partition: number; fromOffset: bigint; toOffset: bigint } {
  const match = /^(\d{1,9}):(\d{1,19})(?:-(\d{1,19}))?$/.exec(text.trim());
  if (!match) throw new DeadLetterToolError(`"${text}" is not <partition>:<offset> or <partition>:<from>-<to>`);
  const fromOffset = BigInt(match[2]!);
  const toOffset = match[3] === undefined ? fromOffset : BigInt(match[3]);
  if (toOffset < fromOffset) throw new DeadLetterToolError(`"${text}": the range ends before it starts`);
  return { partition: Number(match[1]), fromOffset, toOffset };
}
