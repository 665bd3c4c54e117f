import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafka } from '../../../src/kafka/client';
import { DecompressedBatchTooLargeError } from '../../../src/kafka/errors';
import { MAX_DECOMPRESSED_BATCH_BYTES, boundedGzipCodec } from '../../../src/kafka/gzip';
import { testConfig } from '../../helpers/kafka';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

describe('boundedGzipCodec', () => {
  it('compresses and decompresses a batch within the bound, gzip or zlib framed, as kafkajs does', async () => {
    // Prepare
    const codec = boundedGzipCodec(1024);
    const batch = Buffer.from('x'.repeat(1000));

    // Act
    const compressed = await codec.compress({ buffer: batch });

    // Assess
    expect(await codec.decompress(compressed)).toEqual(batch);
    expect(await codec.decompress(await deflate(batch))).toEqual(batch);
  });

  it('refuses a batch that inflates past the bound, with an error kafkajs does not retry', async () => {
    // Prepare: 64 KB of zeros, 100 bytes or so compressed
    const codec = boundedGzipCodec(16 * 1024);
    const bomb = await gzip(Buffer.alloc(64 * 1024));

    // Act
    const attempt = codec.decompress(bomb);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(DecompressedBatchTooLargeError);
    await expect(attempt).rejects.toMatchObject({
      retriable: false,
      message: expect.stringMatching(/inflates to more than 16384 bytes; refused/) as unknown,
    });
  });

  it('passes on what is not a size refusal (a corrupt batch)', async () => {
    await expect(boundedGzipCodec().decompress(Buffer.from('not gzip at all'))).rejects.not.toBeInstanceOf(DecompressedBatchTooLargeError);
  });

  it('is the gzip codec of every client createKafka makes', async () => {
    // Act
    createKafka({ kafka: testConfig.kafka, brokers: testConfig.kafka.brokers });
    const codec = (CompressionCodecs[CompressionTypes.GZIP] as () => ReturnType<typeof boundedGzipCodec>)();

    // Assess
    await expect(codec.decompress(await gzip(Buffer.alloc(MAX_DECOMPRESSED_BATCH_BYTES + 1)))).rejects.toBeInstanceOf(
      DecompressedBatchTooLargeError,
    );
  });
});
