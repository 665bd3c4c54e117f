/** The bounded gzip codec the plugin registers with kafkajs. */
import { gzipSync } from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { boundedGzipCodec, registerBoundedGzip } from '../src/gzip';

describe('the bounded gzip codec', () => {
  it('inflates a batch up to its bound and what it compresses inflates back', async () => {
    const codec = boundedGzipCodec(1_000);
    const batch = Buffer.alloc(1_000, 'a');

    expect(await codec.decompress(gzipSync(batch))).toEqual(batch);
    expect(await codec.decompress(await codec.compress({ buffer: batch }))).toEqual(batch);
  });

  it('refuses a batch that inflates past its bound, saying so, without inflating it', async () => {
    const codec = boundedGzipCodec(1_000);
    const bomb = gzipSync(Buffer.alloc(50_000_000));

    await expect(codec.decompress(bomb)).rejects.toThrow(
      `a gzip record batch of ${bomb.length} bytes inflates to more than 1000 bytes, the local event source's bound (kafkajs would hold it all in memory); it is not read`,
    );
  });

  it('passes on what is not a size problem (a corrupt batch)', async () => {
    await expect(boundedGzipCodec().decompress(Buffer.from('not gzip'))).rejects.toThrow(/incorrect header check/);
  });

  it('is what kafkajs uses for gzip once registered', async () => {
    registerBoundedGzip(10);
    const codec = (CompressionCodecs[CompressionTypes.GZIP] as () => { decompress(b: Buffer): Promise<Buffer> })();

    await expect(codec.decompress(gzipSync(Buffer.alloc(11)))).rejects.toThrow(/more than 10 bytes/);
    registerBoundedGzip();
  });
});
