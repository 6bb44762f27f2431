/**
 * INI files in the layout Hades 1.x read with gcfg (`/etc/hades/hades-api.conf`,
 * `hades-scanner.conf`, `hades-schedule.conf`):
 *
 *   [General]
 *   domain = hades.local.
 *   etcd-server = http://127.0.0.1:2379   ; comment
 *   # comment
 *   scann-ports = 22, 80, 8080
 *
 * Sections and keys are case-insensitive (as gcfg's are); values are strings, trimmed, with one
 * pair of surrounding double quotes removed (`""` is the empty string). A `...` line (the seed
 * README's elision) is ignored. Anything else that is not `key = value` is an error naming the
 * line.
 */
import { readFileSync } from 'node:fs';

export class IniError extends Error {
  readonly code = 'EINI';
  constructor(message: string) {
    super(message);
    this.name = 'IniError';
  }
}

/** `section.key` (lower case) → value. Keys before any section are under `''`. */
export type IniValues = Map<string, string>;

export function parseIni(text: string, file = 'config'): IniValues {
  const out: IniValues = new Map();
  let section = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || /^\.{3}$/.test(line)) continue;
    const sec = /^\[\s*([A-Za-z0-9_.-]+)\s*\]$/.exec(line);
    if (sec) {
      section = sec[1].toLowerCase();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0)
      throw new IniError(
        `${file}:${i + 1}: expected "key = value" or "[section]", got ${JSON.stringify(line)}`,
      );
    const key = line.slice(0, eq).trim().toLowerCase();
    if (!/^[a-z0-9_.-]+$/.test(key)) throw new IniError(`${file}:${i + 1}: bad key ${JSON.stringify(key)}`);
    let value = line.slice(eq + 1).trim();
    if (value.startsWith('"')) {
      const end = value.indexOf('"', 1);
      if (end === -1) throw new IniError(`${file}:${i + 1}: unterminated quote`);
      value = value.slice(1, end);
    } else {
      const comment = value.search(/\s[;#]/);
      if (comment !== -1) value = value.slice(0, comment).trim();
    }
    out.set(section === '' ? key : `${section}.${key}`, value);
  }
  return out;
}

/**
 * Reads an INI file. A missing file is an error when `required` (the user named it); otherwise
 * it yields no values (the default path need not exist).
 */
export function readIniFile(path: string, required: boolean): IniValues {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return new Map();
    throw new IniError(`cannot read ${path}: ${code ?? String(err)}`);
  }
  return parseIni(text, path);
}
