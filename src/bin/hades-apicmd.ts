#!/usr/bin/env node
/**
 * hades-apicmd: the command line of the REST API (the seed's `/hades` calls).
 *
 *   hades-apicmd -list
 *   hades-apicmd -show cctv1
 *   hades-apicmd -method create -domain cctv1 -ips "192.168.10.1;192.168.10.2"
 *   hades-apicmd -method create -domain cctv1.user.hades.local -alias tv1
 *   hades-apicmd -method update -domain cctv1 -updates "ips:192.168.10.1->192.168.10.9"
 *   hades-apicmd -method update -domain cctv1 -updates "alias:tv1->tv2"
 *   hades-apicmd -method delete -domain cctv1 [-ips "a;b" | -alias tv1]
 *
 * -addr / $HADES_API_ADDR, -token / $HADES_API_TOKEN. Errors: one line on stderr, exit 1 (2 for flags).
 */
import {
  baseUrl,
  ClientError,
  call,
  type Entry,
  formatLines,
  parseUpdates,
  splitIps,
} from '../api/client.js';
import { APICMD_PROGRAM, apicmdFlagSpecs } from '../config/apicmd.js';
import { parseCommandLine } from '../config/cli.js';

const { values: v, positionals } = parseCommandLine({ program: APICMD_PROGRAM, specs: apicmdFlagSpecs() });

function fail(message: string, code = 1): never {
  process.stderr.write(`${APICMD_PROGRAM}: ${message}\n`);
  process.exit(code);
}

function typeFor(ips: string[]): string {
  const t = String(v.type).toUpperCase();
  if (t !== '') return t;
  return ips.length > 0 && ips.every((ip) => ip.includes(':')) ? 'AAAA' : 'A';
}

async function main(): Promise<void> {
  if (positionals.length > 0) fail(`unexpected argument "${positionals[0]}"`, 2);
  const base = baseUrl(String(v.addr));
  const token = String(v.token);
  const json = v.json === true;
  const show = String(v.show);
  const method = String(v.method);
  const domain = String(v.domain);
  const print = (entries: { [name: string]: Entry }): void => {
    process.stdout.write(json ? `${JSON.stringify(entries, null, 2)}\n` : formatLines(entries));
  };
  if (v.list === true) {
    print(JSON.parse(await call(base, token, 'GET', undefined)));
    return;
  }
  if (show !== '') {
    print(JSON.parse(await call(base, token, 'GET', show)));
    return;
  }
  if (method === '') fail('nothing to do: give -list, -show <name> or -method create|delete|update', 2);
  if (domain === '') fail(`-method ${method} needs -domain`, 2);
  const ips = splitIps(String(v.ips));
  const alias = String(v.alias).trim();
  let body: unknown;
  let httpMethod: string;
  if (method === 'create') {
    httpMethod = 'POST';
    if (alias !== '' && ips.length > 0) fail('-method create takes -ips or -alias, not both', 2);
    if (alias !== '') body = { type: 'cname', alias };
    else if (ips.length > 0) body = { type: typeFor(ips), ips };
    else fail('-method create needs -ips "a;b" or -alias', 2);
  } else if (method === 'delete') {
    httpMethod = 'DELETE';
    if (alias !== '') body = { type: 'cname', alias };
    else if (ips.length > 0) body = { type: typeFor(ips), ips };
  } else {
    httpMethod = 'PUT';
    if (String(v.updates).trim() === '')
      fail('-method update needs -updates "ips:old->new" or "alias:old->new"', 2);
    const u = parseUpdates(String(v.updates));
    body = { type: u.kind === 'alias' ? 'cname' : typeFor(Object.values(u.update)), update: u.update };
  }
  const out = await call(base, token, httpMethod, domain, body);
  process.stdout.write(json ? `${JSON.stringify({ result: out.trim() })}\n` : `${out.trim()}\n`);
}

main().catch((err) => {
  if (err instanceof ClientError) fail(err.message);
  fail((err as Error).message ?? String(err));
});
