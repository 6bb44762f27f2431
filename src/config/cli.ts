/**
 * The shared shape of every Hades program's start: parse flags, answer -h and -version, turn a
 * bad flag into one line on stderr and exit status 2 (as Go's flag package does), then run.
 */
import { VERSION } from '../version.js';
import { FlagError, type FlagSpec, HelpRequested, type ParsedFlags, parseFlags, usage } from './flags.js';
import { IniError, readIniFile } from './ini.js';

export const VERSION_FLAG: FlagSpec = {
  name: 'version',
  type: 'bool',
  default: 'false',
  help: 'print version information and exit',
  env: false,
};

export interface CliOptions {
  program: string;
  specs: readonly FlagSpec[];
  synopsis?: string;
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /**
   * Name of the flag that names an INI file (`config-file`): when set, values for specs with an
   * `ini` key are read from that file (a missing file is an error only when given explicitly).
   */
  configFileFlag?: string;
}

/**
 * Parses flags, reading the INI file named by `configFileFlag` (first pass) for the values the
 * command line and environment leave unset (second pass). Throws FlagError / IniError.
 */
export function parseWithConfigFile(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  configFileFlag?: string,
): ParsedFlags {
  const first = parseFlags(specs, argv, env);
  if (configFileFlag === undefined) return first;
  const path = first.values[configFileFlag];
  if (typeof path !== 'string' || path === '') return first;
  const values = readIniFile(path, first.explicit.has(configFileFlag));
  return parseFlags(specs, argv, env, { name: path, values });
}

/** Parses the command line; exits the process for -h, -version and bad flags. */
export function parseCommandLine(opts: CliOptions): ParsedFlags {
  const specs = opts.specs.includes(VERSION_FLAG) ? opts.specs : [...opts.specs, VERSION_FLAG];
  try {
    const parsed = parseWithConfigFile(
      specs,
      opts.argv ?? process.argv.slice(2),
      opts.env ?? process.env,
      opts.configFileFlag,
    );
    if (parsed.values.version === true) {
      process.stdout.write(`${opts.program} ${VERSION} (node ${process.version})\n`);
      process.exit(0);
    }
    return parsed;
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(usage(opts.program, specs, opts.synopsis));
      process.exit(0);
    }
    if (err instanceof FlagError || err instanceof IniError) {
      process.stderr.write(`${opts.program}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
