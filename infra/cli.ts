/**
 * What every command line tool of this repository does the same way (`npm run send`,
 * `npm run dlq`, `npm run topics`; docs/http-api.md, "Command line tools"):
 * - `--help` (or `-h`) prints the usage on stdout and exits 0;
 * - bad usage (the command line, or a variable src/config.ts refuses) prints one line on
 *   stderr, naming the problem and what to do, and exits 2;
 * - a failure while running prints one line, `[tool] what failed`, and exits 1.
 *
 * Options are parsed by Node's own `util.parseArgs`; this module only turns its errors
 * into those lines and notices npm taking options for itself (`npm run send --type x`
 * without `--` hands `--type` to npm, and `x` to the tool as a stray argument).
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { ConfigError, errorMessage } from '../src/errors';

/** The command line cannot be what was meant: exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** What to do instead; the tool's `--help` when not given. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * The environment npm ran the tool in: its `npm_config_*` variables say how the tool was
 * invoked, which is no setting of the service (those are src/config.ts's).
 */
function invocation(): NodeJS.ProcessEnv {
  // eslint-disable-next-line no-restricted-properties -- npm's own variables, read for the missing-`--` hint only
  return process.env;
}

/** The options npm took for itself (it sets `npm_config_<name>=true` for a flag it does not know). */
export function optionsTakenByNpm(options: Options, env: NodeJS.ProcessEnv = invocation()): string[] {
  return Object.keys(options).filter((name) => env[`npm_config_${name.replace(/-/g, '_')}`] === 'true');
}

/**
 * `parseArgs` with its errors as one-line UsageErrors (and the missing `--` named);
 * `missingDashes` is that hint, for a tool's own usage errors.
 */
export function parseCommandLineArgs<T extends Options>(
  tool: string,
  argv: string[],
  options: T,
  allowPositionals = false,
  env: NodeJS.ProcessEnv = invocation(),
) {
  const taken = optionsTakenByNpm(options, env);
  const missingDashes =
    taken.length > 0
      ? `npm took ${taken.map((o) => `--${o}`).join(', ')} for itself: put -- before the tool's options (npm run ${tool} -- --${taken[0]} …)`
      : undefined;
  try {
    return { ...parseArgs({ args: argv, options, allowPositionals, strict: true }), missingDashes };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = errorMessage(error);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec(message)?.[1] ?? message;
      throw new UsageError(`unknown option ${option}`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(message.replace(/^Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing$/, '$1 needs a value'));
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const argument = /'([^']+)'/.exec(message)?.[1] ?? message;
      throw new UsageError(`unexpected argument "${argument}"`, missingDashes);
    }
    throw error;
  }
}

/** Whether the command line asks for help (before any `--` that ends the options). */
export function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** The one line a failure prints, and its exit code. */
export function failure(tool: string, error: unknown): { line: string; code: 1 | 2 } {
  if (error instanceof UsageError) {
    return { line: `[${tool}] ${error.message}; ${error.hint ?? `see npm run ${tool} -- --help`}`, code: 2 };
  }
  if (error instanceof ConfigError) {
    return { line: `[${tool}] ${error.message}; see docs/configuration.md`, code: 2 };
  }
  return { line: `[${tool}] ${errorMessage(error)}`, code: 1 };
}

/**
 * Runs a tool's main as the process: help, then main; exits with main's code (0 by
 * default), 2 for a UsageError, 1 for anything else, after one line on stderr.
 */
export function runCli(tool: string, usage: string, main: (argv: string[]) => Promise<number | void>, argv = process.argv.slice(2)): void {
  if (asksForHelp(argv)) {
    process.stdout.write(`${usage.trimEnd()}\n`);
    process.exit(0);
  }
  main(argv).then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      const { line, code } = failure(tool, error);
      console.error(line);
      process.exit(code);
    },
  );
}
