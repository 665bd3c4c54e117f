/**
 * A gzip codec for kafkajs whose decompression is bounded. kafkajs' own codec inflates a
 * batch whatever its size (tulios/kafkajs#1795): a batch of about 90 KB on a topic can
 * inflate to hundreds of megabytes in the reader (a gzip bomb). This one stops at
 * MAX_DECOMPRESSED_BATCH_BYTES (zlib's `maxOutputLength`) and fails with an error that is
 * not retried, so a consumer stops on that batch instead of fetching it again.
 *
 * kafkajs keeps its codecs in one table per process: registering replaces its gzip codec
 * for every client the process makes (createKafka registers it).
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { DecompressedBatchTooLargeError } from './errors';

/**
 * The most one compressed batch may inflate to. A batch is at most the broker's
 * `message.max.bytes` compressed (1 MB by default, on MSK too), and JSON rarely
 * compresses more than tenfold, so a real batch stays far below this.
 */
export const MAX_DECOMPRESSED_BATCH_BYTES = 32 * 1024 * 1024;

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip) as (buffer: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

/** kafkajs' codec interface: it hands compress an Encoder and decompress the batch's bytes. */
export interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

export function boundedGzipCodec(maxBytes: number = MAX_DECOMPRESSED_BATCH_BYTES): KafkaCodec {
  return {
    compress: (encoder) => gzip(encoder.buffer),
    async decompress(buffer) {
      try {
        // unzip, as kafkajs' own codec: gzip or zlib framing, detected from the header.
        return await unzip(buffer, { maxOutputLength: maxBytes });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new DecompressedBatchTooLargeError(
            `a gzip batch of ${buffer.length} bytes inflates to more than ${maxBytes} bytes; refused (a gzip bomb, or a batch larger than any this service reads)`,
          );
        }
        throw error;
      }
    },
  };
}

const registered = boundedGzipCodec();

/** Makes kafkajs use the bounded codec for gzip in this process; idempotent. */
export function registerBoundedGzip(): void {
  CompressionCodecs[CompressionTypes.GZIP] = () => registered;
}
