/**
 * Facts about this execution environment (one Lambda container), computed once.
 * The execution environment id tells containers apart: in metrics groupings and in
 * the time payload.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Config } from './config';

export interface HostInfo {
  function_name: string;
  function_version: string;
  region: string;
  memory_mb: number | undefined;
  runtime: string;
  node_version: string;
  os: string;
  arch: string;
  execution_environment_id: string;
}

// The log stream name is unique per execution environment on Lambda; elsewhere
// (tests) a random id made once per process stands in.
const processId = randomUUID();
// serverless-offline gives every function and worker this same fake log stream
// (src/lambda/LambdaFunction.js), which would make its containers overwrite each other's
// Pushgateway groups; there the per-process id stands in too.
const OFFLINE_LOG_STREAM_ID = 'f77ff5e4026c45bda9a9ebcec6bc9cad';

export function executionEnvironmentId(runtime: Config['runtime']): string {
  const stream = runtime.logStreamName;
  if (stream) {
    const bracket = stream.lastIndexOf(']');
    const id = bracket >= 0 ? stream.slice(bracket + 1) : stream;
    if (id !== OFFLINE_LOG_STREAM_ID) return id;
  }
  return processId;
}

export function hostInfo(runtime: Config['runtime']): HostInfo {
  return {
    function_name: runtime.functionName,
    function_version: runtime.functionVersion,
    region: runtime.region,
    memory_mb: runtime.memoryMb,
    runtime: runtime.executionEnv ?? `local-node${process.versions.node.split('.')[0]}`,
    node_version: process.version,
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    execution_environment_id: executionEnvironmentId(runtime),
  };
}
