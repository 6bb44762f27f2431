/**
 * Where the Kubernetes API server is and how to authenticate to it, through
 * `@kubernetes/client-node`'s `KubeConfig` (1.x): kubeconfig files, contexts, client
 * certificates, CA, `insecure-skip-tls-verify`, exec credential plugins and the in-cluster
 * service account. Our ListWatcher asks `requestOptions()` before every request, so a rotated
 * token, an exec plugin's new credential or a renewed certificate file is used at once, and calls
 * `refresh()` after a 401.
 *
 * Source, first that applies: `-kube-master-url` (+ `-kube-token`, `-kube-ca-file`) → `-kubeconfig`
 * → `$KUBECONFIG` (colon-separated; the first file naming a cluster, user or context wins, as
 * kubectl) → `~/.kube/config` → in-cluster (`KUBERNETES_SERVICE_HOST`/`_PORT` and the
 * service-account files). `-kube-context` picks a context of the kubeconfig.
 *
 * What the library does not do, done here: `tokenFile` of a kubeconfig user and the in-cluster
 * token are read again whenever the file changes (or after a 401) instead of once / every 60 s;
 * an exec plugin gets `KUBERNETES_EXEC_INFO` and its command resolved against the kubeconfig's
 * folder; a 401 drops the cached exec credential; errors name the file, context or command and
 * never carry a token, a key or the plugin's output.
 */

import { readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import { homedir } from 'node:os';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { type Cluster, type Context, KubeConfig, loadYaml, type User } from '@kubernetes/client-node';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** A configuration that cannot work (missing file, unknown context, …): hades-kubeapi exits 2. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

/** Getting credentials for a request failed (an exec plugin, an unreadable token file): retried. */
export class KubeAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeAuthError';
  }
}

export interface KubeAuthOptions {
  /** `-kube-master-url`: when set, the kubeconfig and in-cluster sources are not looked at. */
  masterUrl?: string;
  /** `-kube-token`: with masterUrl its bearer token; with a kubeconfig it replaces the user's credentials. */
  token?: string;
  /** `-kube-ca-file` (with masterUrl). */
  caFile?: string;
  /** `-kubeconfig`. */
  kubeconfig?: string;
  /** `-kube-context`: a context of the kubeconfig instead of its current-context. */
  context?: string;
  /** `KUBECONFIG`, `HOME`, `KUBERNETES_SERVICE_HOST`/`_PORT`. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Prefix of the service-account folder (tests). Default ''. */
  serviceAccountPrefix?: string;
  /** How long getting credentials (an exec plugin) may take. Default 30 s. */
  timeoutMs?: number;
}

/** What one request needs: the headers (Authorization), the agent (TLS material), basic auth. */
export interface RequestAuthOptions {
  headers: http.OutgoingHttpHeaders;
  agent: http.Agent | undefined;
  auth?: string;
  /** Which credentials these are: `refresh(generation)` after a 401 with them. */
  generation: number;
}

/** What KubeClient needs of credentials. */
export interface RequestAuth {
  readonly server: URL;
  requestOptions(): Promise<RequestAuthOptions>;
  /**
   * After a 401 with the credentials of `generation`: the next request reads token files again
   * and runs the exec plugin again (once, however many requests got the 401 with them).
   */
  refresh(generation?: number): void;
}

const TOKEN_FILE_PROVIDER = 'hades-token-file';

/** A bearer token in a file, read again when the file changes (or after `invalidate()`). */
class TokenFile {
  private token: string | undefined;
  private stamp = '';
  constructor(readonly file: string) {}

  invalidate(): void {
    this.stamp = '';
  }

  get(): string {
    let stamp: string;
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}/${st.size}/${st.mtimeMs}/${st.ctimeMs}`;
    } catch (err) {
      throw new KubeAuthError(`token file ${this.file}: ${errCode(err)}`);
    }
    if (this.token === undefined || stamp !== this.stamp) {
      try {
        this.token = readFileSync(this.file, 'utf8').trim();
      } catch (err) {
        throw new KubeAuthError(`token file ${this.file}: ${errCode(err)}`);
      }
      this.stamp = stamp;
    }
    return this.token;
  }
}

/** The library's Authenticator interface for our token files (users with our auth-provider name). */
class TokenFileAuthenticator {
  readonly files = new Map<string, TokenFile>();
  isAuthProvider(user: User): boolean {
    return user.authProvider?.name === TOKEN_FILE_PROVIDER;
  }
  async applyAuthentication(user: User, opts: https.RequestOptions): Promise<void> {
    const file = String(user.authProvider.config.path);
    let tf = this.files.get(file);
    if (tf === undefined) {
      tf = new TokenFile(file);
      this.files.set(file, tf);
    }
    const token = tf.get();
    if (opts.headers === undefined) opts.headers = {};
    const headers = opts.headers as http.OutgoingHttpHeaders;
    if (token !== '') headers.Authorization = `Bearer ${token}`;
  }
}

function errCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  return e.code ?? e.message;
}

function readable(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new KubeConfigError(`${what} ${file}: ${errCode(err)}`);
  }
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

type RawUser = { [k: string]: unknown };

/** Loads one kubeconfig file into `kc` (merged after the first: the first definition of a name wins). */
function loadFile(
  kc: KubeConfig,
  file: string,
  first: boolean,
  raw: Map<string, { user: RawUser; dir: string }>,
): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${file}: ${errCode(err)}`);
  }
  const one = new KubeConfig();
  let doc: { users?: { name?: string; user?: RawUser }[] } | undefined;
  try {
    one.loadFromString(text);
    doc = loadYaml(text);
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const dir = path.dirname(path.resolve(file));
  one.makePathsAbsolute(dir);
  for (const u of Array.isArray(doc?.users) ? doc.users : [])
    if (typeof u?.name === 'string' && !raw.has(u.name) && u.user) raw.set(u.name, { user: u.user, dir });
  if (first) {
    kc.loadFromOptions({
      clusters: one.clusters,
      users: one.users,
      contexts: one.contexts,
      currentContext: one.currentContext,
    });
    return;
  }
  if (!kc.currentContext && one.currentContext) kc.currentContext = one.currentContext;
  for (const c of one.clusters) if (!kc.getCluster(c.name)) kc.clusters.push(c);
  for (const u of one.users) if (!kc.getUser(u.name)) kc.users.push(u);
  for (const c of one.contexts) if (!kc.getContextObject(c.name)) kc.contexts.push(c);
}

interface Loaded {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string;
  /** `kubeconfig /path (context x)`, `kube-master-url`, `in-cluster`. */
  source: string;
}

/** Picks the source and reads it; throws KubeConfigError with one line naming what is wrong. */
function resolve(opts: KubeAuthOptions): Loaded {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  if (opts.masterUrl) {
    if (opts.context)
      throw new KubeConfigError(
        `-kube-context "${opts.context}": contexts are a kubeconfig's, and -kube-master-url is set`,
      );
    let url: URL;
    try {
      url = new URL(opts.masterUrl);
    } catch {
      throw new KubeConfigError(`-kube-master-url: "${opts.masterUrl}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new KubeConfigError(`-kube-master-url: "${opts.masterUrl}" is not an http:// or https:// URL`);
    if (opts.caFile) readable(opts.caFile, '-kube-ca-file');
    kc.loadFromClusterAndUser(
      {
        name: 'kube-master-url',
        server: opts.masterUrl.replace(/\/$/, ''),
        caFile: opts.caFile || undefined,
        skipTLSVerify: false,
      },
      { name: 'kube-master-url', token: opts.token || undefined },
    );
    return { ...plain(kc), source: 'kube-master-url' };
  }

  const raw = new Map<string, { user: RawUser; dir: string }>();
  let files: string[] = [];
  let from = '';
  if (opts.kubeconfig) {
    files = [opts.kubeconfig];
    from = `-kubeconfig ${opts.kubeconfig}`;
  } else if (env.KUBECONFIG) {
    const listed = env.KUBECONFIG.split(path.delimiter).filter((f) => f !== '');
    files = listed.filter(exists);
    from = `$KUBECONFIG ${env.KUBECONFIG}`;
    if (files.length === 0)
      throw new KubeConfigError(`kubeconfig: no file of $KUBECONFIG (${env.KUBECONFIG}) exists`);
  } else {
    const home = env.HOME || homedir();
    const file = path.join(home, '.kube', 'config');
    if (home && exists(file)) {
      files = [file];
      from = file;
    }
  }
  if (files.length > 0) {
    for (const [i, f] of files.entries()) loadFile(kc, f, i === 0, raw);
    const names = kc.contexts.map((c) => c.name).join(', ') || 'none';
    const where = files.length === 1 ? files[0] : from;
    if (opts.context) {
      if (!kc.getContextObject(opts.context))
        throw new KubeConfigError(
          `-kube-context "${opts.context}": no such context in ${where} (contexts: ${names})`,
        );
      kc.setCurrentContext(opts.context);
    } else if (!kc.currentContext)
      throw new KubeConfigError(
        `kubeconfig ${where}: no current-context; pick one with -kube-context (contexts: ${names})`,
      );
    const ctxName = kc.currentContext;
    const ctx = kc.getContextObject(ctxName);
    if (!ctx)
      throw new KubeConfigError(
        `kubeconfig ${where}: current-context "${ctxName}" is not a context (contexts: ${names})`,
      );
    const cluster = kc.getCluster(ctx.cluster);
    if (!cluster)
      throw new KubeConfigError(
        `kubeconfig ${where}: context "${ctxName}" names cluster "${ctx.cluster}", which is not defined`,
      );
    let user = kc.getUser(ctx.user);
    if (!user) {
      if (ctx.user)
        throw new KubeConfigError(
          `kubeconfig ${where}: context "${ctxName}" names user "${ctx.user}", which is not defined`,
        );
      user = { name: '' };
      kc.users.push(user);
    }
    const label = `kubeconfig ${where} (context ${ctxName})`;
    const r = raw.get(user.name);
    fixUser(kc, user, label, r?.user ?? {}, r?.dir ?? '', opts.token);
    checkCluster(cluster, label);
    return { ...plain(kc), source: label };
  }

  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    const prefix = opts.serviceAccountPrefix ?? '';
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = env.KUBERNETES_SERVICE_HOST;
    process.env.KUBERNETES_SERVICE_PORT = env.KUBERNETES_SERVICE_PORT;
    try {
      kc.loadFromCluster(prefix);
    } finally {
      restoreEnv('KUBERNETES_SERVICE_HOST', saved.host);
      restoreEnv('KUBERNETES_SERVICE_PORT', saved.port);
    }
    const user = kc.getCurrentUser() as User;
    const tokenFile = `${prefix}${SERVICE_ACCOUNT_DIR}/token`;
    readable(tokenFile, 'in-cluster: service-account token');
    readable(`${prefix}${SERVICE_ACCOUNT_DIR}/ca.crt`, 'in-cluster: service-account CA');
    replaceUser(kc, user, {
      name: user.name,
      token: opts.token || undefined,
      authProvider: opts.token ? undefined : { name: TOKEN_FILE_PROVIDER, config: { path: tokenFile } },
    });
    return { ...plain(kc), source: 'in-cluster' };
  }
  throw new KubeConfigError(
    '-kube-master-url ([Kube2Hades] kube-master-url): a value is required when kube-enable is YES (or -kubeconfig, $KUBECONFIG, ~/.kube/config, or run in a pod)',
  );
}

function restoreEnv(k: string, v: string | undefined): void {
  if (v === undefined) delete process.env[k];
  else process.env[k] = v;
}

function plain(kc: KubeConfig): Omit<Loaded, 'source'> {
  return { clusters: kc.clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext };
}

function replaceUser(kc: KubeConfig, old: User, next: User): void {
  kc.users = kc.users.map((u) => (u === old ? next : u));
}

/** Checks the user's files now (exit 2 instead of a retry loop) and adds what the library lacks. */
function fixUser(
  kc: KubeConfig,
  user: User,
  label: string,
  raw: RawUser,
  dir: string,
  override?: string,
): void {
  const what = (f: string) => `${label}, user "${user.name}": ${f}`;
  const cert = user.certFile
    ? readable(user.certFile, what('client-certificate'))
    : user.certData
      ? Buffer.from(user.certData, 'base64')
      : undefined;
  const key = user.keyFile
    ? readable(user.keyFile, what('client-key'))
    : user.keyData
      ? Buffer.from(user.keyData, 'base64')
      : undefined;
  if ((cert === undefined) !== (key === undefined))
    throw new KubeConfigError(
      what(cert ? 'client-certificate without client-key' : 'client-key without client-certificate'),
    );
  if (cert && key) {
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      throw new KubeConfigError(what(`client certificate and key unusable: ${(err as Error).message}`));
    }
  }
  let next: User = { ...user };
  if (override) {
    // -kube-token: the bearer token, whatever the kubeconfig's user would use (client certificates stay)
    next = { ...next, token: override, exec: undefined, authProvider: undefined };
  } else if (typeof raw.tokenFile === 'string' && raw.tokenFile !== '') {
    // kubeconfig `tokenFile` (the library reads only `token-file`, once); it wins over `token`, as in client-go
    const file = path.resolve(dir, raw.tokenFile);
    readable(file, what('tokenFile'));
    next = { ...next, token: undefined, authProvider: { name: TOKEN_FILE_PROVIDER, config: { path: file } } };
  } else if (user.exec) {
    const exec = user.exec as {
      command?: unknown;
      apiVersion?: unknown;
      env?: unknown;
      interactiveMode?: unknown;
    };
    if (typeof exec.command !== 'string' || exec.command === '')
      throw new KubeConfigError(what('exec has no command'));
    const apiVersion = String(exec.apiVersion ?? '');
    if (!EXEC_API_VERSIONS.includes(apiVersion))
      throw new KubeConfigError(
        what(`exec apiVersion "${apiVersion}" is not supported (${EXEC_API_VERSIONS.join(' or ')})`),
      );
    if (exec.interactiveMode === 'Always')
      throw new KubeConfigError(
        what(`exec command "${exec.command}" wants a terminal (interactiveMode Always)`),
      );
    // a relative command with a slash is relative to the kubeconfig's folder (as client-go)
    const command =
      exec.command.includes('/') && !path.isAbsolute(exec.command)
        ? path.resolve(dir, exec.command)
        : exec.command;
    const execEnv = [
      ...(Array.isArray(exec.env) ? (exec.env as { name: string; value: string }[]) : []),
      {
        name: 'KUBERNETES_EXEC_INFO',
        value: JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } }),
      },
    ];
    next = { ...next, exec: { ...exec, command, env: execEnv } };
  }
  replaceUser(kc, user, next);
}

function checkCluster(cluster: Cluster, label: string): void {
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    throw new KubeConfigError(`${label}: cluster "${cluster.name}" server "${cluster.server}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new KubeConfigError(
      `${label}: cluster "${cluster.name}" server "${cluster.server}" is not http(s)://`,
    );
  if (cluster.caFile) readable(cluster.caFile, `${label}, cluster "${cluster.name}": certificate-authority`);
}

/** Credentials for our requests, from KubeConfig. */
export class KubeAuth implements RequestAuth {
  readonly server: URL;
  /** Where the configuration came from (for logs): `kubeconfig <file> (context <name>)`, `kube-master-url`, `in-cluster`. */
  readonly source: string;
  private kc: KubeConfig;
  private readonly tokenFiles = new TokenFileAuthenticator();
  private readonly loaded: Loaded;
  private queue: Promise<unknown> = Promise.resolve();
  private generation = 0;
  private readonly timeoutMs: number;

  private constructor(loaded: Loaded, timeoutMs: number) {
    this.loaded = loaded;
    this.source = loaded.source;
    this.timeoutMs = timeoutMs;
    this.kc = this.build();
    const cluster = this.kc.getCurrentCluster() as Cluster;
    this.server = new URL(cluster.server);
  }

  /** Reads the configuration (see the file's comment); throws KubeConfigError. */
  static load(opts: KubeAuthOptions = {}): KubeAuth {
    return new KubeAuth(resolve(opts), opts.timeoutMs ?? 30_000);
  }

  /** A KubeConfig on the loaded data with fresh authenticators (no cached exec credential). */
  private build(): KubeConfig {
    const kc = new KubeConfig();
    kc.addAuthenticator(this.tokenFiles);
    kc.loadFromOptions({
      // an http:// server (kubectl proxy): the library refuses it unless told TLS does not apply
      clusters: this.loaded.clusters.map((c) =>
        c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c,
      ),
      users: this.loaded.users,
      contexts: this.loaded.contexts,
      currentContext: this.loaded.currentContext,
    });
    return kc;
  }

  /** The user's exec command, if it has one (for error lines). */
  private execCommand(): string | undefined {
    const exec = this.kc.getCurrentUser()?.exec as { command?: string } | undefined;
    return exec?.command;
  }

  refresh(generation?: number): void {
    if (generation !== undefined && generation !== this.generation) return; // refreshed already
    this.generation++;
    for (const tf of this.tokenFiles.files.values()) tf.invalidate();
    if (this.execCommand() !== undefined) this.kc = this.build();
  }

  /** Options for one request, asked one at a time (two watchers share one exec run). */
  requestOptions(): Promise<RequestAuthOptions> {
    const next = this.queue.then(() => this.apply());
    this.queue = next.catch(() => {});
    return next;
  }

  private async apply(): Promise<RequestAuthOptions> {
    const opts: https.RequestOptions = { headers: {} };
    const generation = this.generation;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.kc.applyToHTTPSOptions(opts),
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new KubeAuthError(`${this.describeCredentials()}: no credentials after ${this.timeoutMs} ms`),
              ),
            this.timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      throw err instanceof KubeAuthError ? err : new KubeAuthError(this.describeError(err));
    } finally {
      clearTimeout(timer);
    }
    return {
      headers: (opts.headers ?? {}) as http.OutgoingHttpHeaders,
      agent: opts.agent as http.Agent | undefined,
      auth: opts.auth ?? undefined,
      generation,
    };
  }

  private describeCredentials(): string {
    const cmd = this.execCommand();
    return cmd !== undefined ? `exec plugin "${cmd}" of ${this.source}` : this.source;
  }

  /** One line about a failure, never the exec plugin's output (the library puts its stderr in the message). */
  private describeError(err: unknown): string {
    const e = err as NodeJS.ErrnoException;
    const cmd = this.execCommand();
    if (cmd !== undefined && typeof e.syscall === 'string' && e.syscall.startsWith('spawn'))
      return `exec plugin "${cmd}" of ${this.source}: cannot run it: ${errCode(e)}`;
    if (typeof e.syscall === 'string' && typeof e.path === 'string')
      return `${this.source}: ${e.path}: ${errCode(e)}`;
    if (cmd !== undefined)
      return `exec plugin "${cmd}" of ${this.source} failed: it exited with an error or printed no ExecCredential (its output is not logged)`;
    return `${this.source}: ${e.message ?? String(err)}`;
  }
}
