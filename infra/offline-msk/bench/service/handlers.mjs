// The no-op consumer function for bench/throughput.ts.
export const noop = async () => null;
