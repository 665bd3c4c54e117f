/**
 * SCRAM-SHA-512 users on a running Kafka, through the broker's AlterUserScramCredentials API
 * (KIP-554, API key 51, version 0): what `kafka-configs --alter --add-config SCRAM-SHA-512=…`
 * sends, without a JVM per user. Written by hand because kafkajs has no user management
 * (tulios/kafkajs#1164, open) and the Java tool takes seconds per user, where a run of
 * `serverless offline` makes eight users and removes them again.
 *
 * The request is Kafka's flexible encoding (compact strings, arrays and bytes, tagged
 * fields) after a v2 request header; the salted password is PBKDF2-HMAC-SHA-512 over a
 * random salt (RFC 5802's Hi() over the password's UTF-8 bytes, as Kafka's ScramFormatter
 * computes it). It goes to a listener whose principal may alter the cluster (the local
 * stack's PLAINTEXT super user).
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import net from 'node:net';

const API_KEY = 51;
const SCRAM_SHA_512 = 2;
/** Kafka's minimum for SCRAM-SHA-512 is 4096. */
export const ITERATIONS = 4096;

export interface ScramUser {
  name: string;
  password: string;
}

function uvarint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

const compactBytes = (b: Buffer): Buffer => Buffer.concat([uvarint(b.length + 1), b]);
const compactString = (s: string): Buffer => compactBytes(Buffer.from(s, 'utf8'));
const compactArray = (items: Buffer[]): Buffer => Buffer.concat([uvarint(items.length + 1), ...items]);
const NO_TAGS = uvarint(0);

function int(bytes: 1 | 2 | 4, value: number): Buffer {
  const b = Buffer.alloc(bytes);
  if (bytes === 1) b.writeInt8(value);
  else if (bytes === 2) b.writeInt16BE(value);
  else b.writeInt32BE(value);
  return b;
}

/** One AlterUserScramCredentials request frame (size prefix included). */
export function encodeRequest(params: {
  correlationId: number;
  clientId: string;
  upsert: readonly ScramUser[];
  remove: readonly string[];
  salt?: () => Buffer;
}): Buffer {
  const salt = params.salt ?? (() => randomBytes(32));
  const clientId = Buffer.from(params.clientId, 'utf8');
  const header = Buffer.concat([int(2, API_KEY), int(2, 0), int(4, params.correlationId), int(2, clientId.length), clientId, NO_TAGS]);
  const deletions = params.remove.map((name) => Buffer.concat([compactString(name), int(1, SCRAM_SHA_512), NO_TAGS]));
  const upsertions = params.upsert.map(({ name, password }) => {
    const s = salt();
    const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), s, ITERATIONS, 64, 'sha512');
    return Buffer.concat([compactString(name), int(1, SCRAM_SHA_512), int(4, ITERATIONS), compactBytes(s), compactBytes(salted), NO_TAGS]);
  });
  const body = Buffer.concat([compactArray(deletions), compactArray(upsertions), NO_TAGS]);
  return Buffer.concat([int(4, header.length + body.length), header, body]);
}

class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  int16(): number {
    const v = this.b.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    const v = this.b.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.b.readUInt8(this.at++);
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
    }
    throw new Error('malformed varint');
  }
  /** A compact nullable string. */
  string(): string | null {
    const length = this.uvarint() - 1;
    if (length < 0) return null;
    const s = this.b.toString('utf8', this.at, this.at + length);
    this.at += length;
    return s;
  }
  skipTags(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint();
      this.at += this.uvarint();
    }
  }
}

export interface UserResult {
  user: string;
  errorCode: number;
  errorMessage: string | null;
}

/** The per-user results of a response frame (without its size prefix). */
export function decodeResponse(frame: Buffer, correlationId: number): UserResult[] {
  const r = new Reader(frame);
  if (r.int32() !== correlationId) throw new Error('AlterUserScramCredentials: an answer to another request');
  r.skipTags();
  r.int32(); // throttle time
  const results: UserResult[] = [];
  for (let n = r.uvarint() - 1; n > 0; n--) {
    results.push({ user: r.string() ?? '', errorCode: r.int16(), errorMessage: r.string() });
    r.skipTags();
  }
  return results;
}

/** Sends one frame to host:port and resolves with the answer's frame, bounded by `timeoutMs`. */
function exchange(broker: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
  const at = broker.lastIndexOf(':');
  const host = broker.slice(0, at);
  const port = Number(broker.slice(at + 1));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no answer from ${broker} within ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) {
        socket.end();
        resolve(received.subarray(4, 4 + received.readInt32BE(0)));
      }
    });
    socket.once('close', () => reject(new Error(`${broker} closed the connection before answering`)));
  });
}

/** Kafka error codes an answer may carry, by name, for messages. */
const RESOURCE_NOT_FOUND = 91;
const ERRORS: Record<number, string> = {
  31: 'CLUSTER_AUTHORIZATION_FAILED',
  33: 'UNSUPPORTED_SASL_MECHANISM',
  35: 'UNSUPPORTED_VERSION',
  42: 'INVALID_REQUEST',
  [RESOURCE_NOT_FOUND]: 'RESOURCE_NOT_FOUND',
  92: 'DUPLICATE_RESOURCE',
  93: 'UNACCEPTABLE_CREDENTIAL',
};

/**
 * Creates (or changes the password of) `upsert` and deletes `remove`, in one request to
 * `broker` (host:port, PLAINTEXT). Deleting a user that does not exist is fine. Throws one
 * error naming every user the broker refused.
 */
export async function alterScramUsers(params: {
  broker: string;
  upsert?: readonly ScramUser[];
  remove?: readonly string[];
  timeoutMs?: number;
}): Promise<void> {
  const upsert = params.upsert ?? [];
  const remove = params.remove ?? [];
  if (upsert.length + remove.length === 0) return;
  const correlationId = Math.floor(Math.random() * 0x7fffffff);
  const request = encodeRequest({ correlationId, clientId: 'simple-time-service-local-authz', upsert, remove });
  const results = decodeResponse(await exchange(params.broker, request, params.timeoutMs ?? 10_000), correlationId);
  const refused = results.filter((r) => r.errorCode !== 0 && !(r.errorCode === RESOURCE_NOT_FOUND && remove.includes(r.user)));
  if (refused.length > 0) {
    const reasons = refused.map(
      (r) => `${r.user}: ${ERRORS[r.errorCode] ?? `error ${r.errorCode}`}${r.errorMessage ? ` (${r.errorMessage})` : ''}`,
    );
    throw new Error(`${params.broker} refused the SCRAM users: ${reasons.join('; ')}`);
  }
}
