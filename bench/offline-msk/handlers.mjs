// The no-op consumer function for bench/offline-msk-throughput.ts.
export const noop = async () => null;
