/**
 * The shape every Hades program's command line has: argv and the environment (and an INI file)
 * → a typed config, or -version. Nothing here exits: programs/run.ts turns a FlagError into one
 * line and exit status 2 (as Go's flag package does), -h into the usage text.
 */
import {
  type FlagSpec,
  type FlagValues,
  type ParsedFlags,
  parseFlags,
  strayArgument,
  usage,
} from './flags.js';
import { readIniFile } from './ini.js';

export const VERSION_FLAG: FlagSpec = {
  name: 'version',
  type: 'bool',
  default: 'false',
  help: 'print version information and exit',
  env: false,
};

/** One program's command line. */
export interface CommandLine<C> {
  program: string;
  /**
   * argv → the config, or 'version' for -version. Throws FlagError (a bad flag, value or stray
   * argument), IniError and HelpRequested (-h).
   */
  parse(argv: readonly string[], env: NodeJS.ProcessEnv): C | 'version';
  usage(argv: readonly string[]): string;
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

/**
 * The command line of a program that takes flags only (no positional argument), values also
 * from the INI file named by `configFileFlag`; `build` turns them into the config (FlagError
 * naming the flag when one is bad).
 */
export function flagsCommandLine<C>(
  program: string,
  specs: readonly FlagSpec[],
  build: (values: FlagValues, env: NodeJS.ProcessEnv) => C,
  configFileFlag?: string,
): CommandLine<C> {
  const all = specs.includes(VERSION_FLAG) ? specs : [...specs, VERSION_FLAG];
  return {
    program,
    parse(argv, env) {
      const parsed = parseWithConfigFile(all, argv, env, configFileFlag);
      if (parsed.positionals.length > 0) throw strayArgument(all, argv, parsed.positionals);
      return parsed.values.version === true ? 'version' : build(parsed.values, env);
    },
    usage: () => usage(program, all),
  };
}
