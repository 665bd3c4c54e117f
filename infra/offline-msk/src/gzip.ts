/**
 * A gzip codec for kafkajs whose decompression is bounded. kafkajs 2.2.4 inflates a gzip
 * record batch with zlib.unzip and no limit (tulios/kafkajs#1795, open): a batch of a few
 * kilobytes on a topic this plugin reads can inflate to gigabytes in the serverless
 * process. This one stops at `maxBytes` (zlib's maxOutputLength, so the memory is never
 * taken) and fails with an error that says so; the batch's partition then waits, with
 * that error in the log, instead of the process running out of memory.
 *
 * kafkajs keeps its codecs per module, not per client: registering replaces the gzip
 * codec of the kafkajs module this plugin loads, for every client made from it.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip);

/**
 * The most one record batch may inflate to: 32 MiB, far more than a producer writes in
 * one batch (the broker takes at most 1 MB compressed by default) and far less than the
 * thousandfold a crafted batch reaches.
 */
export const MAX_GZIP_BATCH_BYTES = 32 * 1024 * 1024;

/** What kafkajs asks of a codec. */
export interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

export function boundedGzipCodec(maxBytes: number = MAX_GZIP_BATCH_BYTES): KafkaCodec {
  return {
    compress: (encoder) => gzip(encoder.buffer),
    async decompress(buffer) {
      try {
        return await unzip(buffer, { maxOutputLength: maxBytes });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw error;
        throw new Error(
          `a gzip record batch of ${buffer.length} bytes inflates to more than ${maxBytes} bytes, the local event source's bound ` +
            '(kafkajs would hold it all in memory); it is not read',
        );
      }
    },
  };
}

/** Makes kafkajs (the module this plugin loads) decompress gzip batches with the bounded codec. */
export function registerBoundedGzip(maxBytes: number = MAX_GZIP_BATCH_BYTES): void {
  const codec = boundedGzipCodec(maxBytes);
  CompressionCodecs[CompressionTypes.GZIP] = () => codec;
}
