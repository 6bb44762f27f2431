/**
 * deploy/kubernetes: every YAML document parses, every object validates against the Kubernetes
 * API schemas (kubernetes-models), and the manifests agree with the programs: the args, env and
 * mounted INI files of each container build a valid config with the program's own parser and
 * builder, probes hit /health and /ready on the port the program serves them on, RBAC covers
 * what the watcher lists and watches.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DaemonSet as DaemonSetModel, Deployment as DeploymentModel } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { parseWithConfigFile } from '../../src/config/cli.js';
import type { FlagSpec } from '../../src/config/flags.js';
import { parseHadesArgs } from '../../src/config/hades.js';
import { parseIni } from '../../src/config/ini.js';
import { buildKubeapiConfig, kubeapiFlagSpecs } from '../../src/config/kubeapi.js';
import { buildScannerConfig, scannerFlagSpecs } from '../../src/config/scanner.js';
import { buildScheduleConfig, scheduleFlagSpecs } from '../../src/config/schedule.js';
import { HADES_NODE_FLAGS } from '../../src/dns/memory.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DIR = join(ROOT, 'deploy', 'kubernetes');
const NAMESPACE = 'hades';
const IMAGE = 'hades:0.1.0';
const SECRET_VALUE = 'secret-from-the-test';
const NODE_NAME = 'node-1';
const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

// Loose views of the objects: the schema test below checks their real shape.
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked by the schema validation
  spec?: any;
  data?: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked by the schema validation
  rules?: any[];
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML
  roleRef?: any;
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML
  subjects?: any[];
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}
interface Port {
  name?: string;
  containerPort: number;
  protocol?: string;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Port[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}

type Model = new (data: never) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': DeploymentModel,
  'apps/v1/DaemonSet': DaemonSetModel,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
};
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

const yamlFiles = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const manifestFiles = yamlFiles.filter((f) => f !== 'kustomization.yaml');

function loadYaml(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  const list = Array.isArray(docs) ? docs : [docs];
  const out: unknown[] = [];
  for (const doc of list) {
    assert.deepEqual(
      doc.errors.map((e) => e.message),
      [],
      `${file}: YAML errors`,
    );
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

const objects: { file: string; obj: Obj }[] = manifestFiles.flatMap((file) =>
  loadYaml(file).map((obj) => ({ file, obj: obj as Obj })),
);

function find(kind: string, name: string): Obj {
  const hit = objects.find((o) => o.obj.kind === kind && o.obj.metadata.name === name);
  assert.ok(hit, `no ${kind} ${name} in deploy/kubernetes`);
  return hit.obj;
}
const configMap = (): Obj => find('ConfigMap', 'hades-config');
const podSpec = (o: Obj) => o.spec.template.spec;
const containerOf = (o: Obj): Container => {
  const cs = podSpec(o).containers as Container[];
  assert.equal(cs.length, 1, `${o.kind} ${o.metadata.name}: one container`);
  return cs[0];
};

/** The container's environment as the kubelet builds it (secrets: a stand-in value). */
function envOf(c: Container): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const cm = configMap();
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      assert.equal(ref.name, cm.metadata.name, `${c.name}: env ${e.name} from an unknown ConfigMap`);
      assert.ok(
        cm.data && ref.key in cm.data,
        `${c.name}: env ${e.name}: no key ${ref.key} in the ConfigMap`,
      );
      env[e.name] = cm.data[ref.key];
    } else if (e.valueFrom?.secretKeyRef) env[e.name] = SECRET_VALUE;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = NODE_NAME;
    else assert.fail(`${c.name}: env ${e.name}: unexpected source ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}

/** `$(VAR)` in args expanded from the container's env, as Kubernetes does. */
function argsOf(c: Container, env: NodeJS.ProcessEnv): string[] {
  return (c.args ?? []).map((a) =>
    a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole),
  );
}

const work = mkdtempSync(join(tmpdir(), 'hades-manifests-'));
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * Parses a program's flags as its pod would: the ConfigMap items mounted at /etc/hades written to
 * a temp dir, `-config-file` pointed there, then the program's own two-pass parse.
 */
function podFlags(o: Obj, specs: FlagSpec[]) {
  const c = containerOf(o);
  const env = envOf(c);
  const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === '/etc/hades');
  assert.ok(mount, `${o.metadata.name}: the config is mounted at /etc/hades`);
  const volume = (
    podSpec(o).volumes as {
      name: string;
      configMap?: { name: string; items?: { key: string; path: string }[] };
    }[]
  ).find((v) => v.name === mount.name);
  assert.equal(
    volume?.configMap?.name,
    configMap().metadata.name,
    `${o.metadata.name}: /etc/hades is hades-config`,
  );
  const dir = mkdtempSync(join(work, `${o.metadata.name}-`));
  const data = configMap().data ?? {};
  for (const item of volume.configMap.items ?? []) {
    assert.ok(item.key in data, `${o.metadata.name}: no ${item.key} in the ConfigMap`);
    writeFileSync(join(dir, item.path), data[item.key]);
  }
  const args = argsOf(c, env);
  const cf = args.find((a) => a.startsWith('-config-file='));
  assert.ok(cf, `${o.metadata.name}: -config-file= in args`);
  const file = cf.slice('-config-file='.length);
  assert.ok(file.startsWith('/etc/hades/'), `${o.metadata.name}: config file under /etc/hades`);
  assert.ok(
    existsSync(join(dir, file.slice('/etc/hades/'.length))),
    `${o.metadata.name}: ${file} is mounted`,
  );
  const local = args.map((a) =>
    a === cf ? `-config-file=${join(dir, file.slice('/etc/hades/'.length))}` : a,
  );
  return { c, env, args: local, parsed: parseWithConfigFile(specs, local, env, 'config-file') };
}

function portNamed(c: Container, name: string | number): Port {
  const p = (c.ports ?? []).find((x) => x.name === name || x.containerPort === name);
  assert.ok(p, `${c.name}: no port ${name}`);
  return p;
}

/** Liveness /health and readiness /ready on the given container port. */
function assertProbes(c: Container, port: number): void {
  assert.equal(c.livenessProbe?.httpGet?.path, '/health', `${c.name}: liveness /health`);
  assert.equal(c.readinessProbe?.httpGet?.path, '/ready', `${c.name}: readiness /ready`);
  assert.equal(portNamed(c, c.livenessProbe.httpGet.port).containerPort, port, `${c.name}: liveness port`);
  assert.equal(portNamed(c, c.readinessProbe.httpGet.port).containerPort, port, `${c.name}: readiness port`);
}

/**
 * Scraped where the program serves /metrics: the annotations name its -metrics-port, a container
 * port of that number is declared, and it binds an address the scraper can reach.
 */
function assertScraped(o: Obj, c: Container, cfg: { metricsPort: number; metricsHost: string }): void {
  const name = o.metadata.name;
  assert.ok(cfg.metricsPort > 0, `${name}: -metrics-port is on`);
  assert.equal(cfg.metricsHost, '0.0.0.0', `${name}: Prometheus and the kubelet reach the metrics port`);
  const ann = podSpecAnnotations(o);
  assert.equal(ann['prometheus.io/scrape'], 'true', `${name}: prometheus.io/scrape`);
  assert.equal(ann['prometheus.io/port'], String(cfg.metricsPort), `${name}: prometheus.io/port`);
  assert.equal(ann['prometheus.io/path'], '/metrics', `${name}: prometheus.io/path`);
  assert.equal(portNamed(c, 'metrics').containerPort, cfg.metricsPort, `${name}: container port "metrics"`);
}

const etcdEndpoints = (): string[] => (configMap().data?.['etcd-endpoints'] ?? '').split(',');

describe('deploy/kubernetes', () => {
  it('has a kustomization listing every manifest', () => {
    const [k] = loadYaml('kustomization.yaml') as { kind: string; namespace: string; resources: string[] }[];
    assert.equal(k.kind, 'Kustomization');
    assert.equal(k.namespace, NAMESPACE);
    assert.deepEqual([...k.resources].sort(), manifestFiles);
  });

  it('validates every object against the Kubernetes API schemas', () => {
    assert.ok(objects.length >= 12, `only ${objects.length} objects`);
    for (const { file, obj } of objects) {
      const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      assert.ok(model, `${file}: no schema for ${obj.apiVersion} ${obj.kind}`);
      try {
        new model(obj as never).validate();
      } catch (err) {
        assert.fail(`${file}: ${obj.kind} ${obj.metadata?.name}: ${(err as Error).message}`);
      }
      if (CLUSTER_SCOPED.has(obj.kind))
        assert.equal(obj.metadata.namespace, undefined, `${file}: ${obj.kind}`);
      else assert.equal(obj.metadata.namespace, NAMESPACE, `${file}: ${obj.kind} ${obj.metadata.name}`);
    }
    const names = objects.map(({ obj }) => `${obj.kind}/${obj.metadata.name}`);
    assert.equal(new Set(names).size, names.length, 'duplicate objects');
  });

  it('the schema validation rejects a broken object (so the test above means something)', () => {
    const broken = structuredClone(find('Deployment', 'hades'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'fifty-three';
    assert.throws(() => new DeploymentModel(broken as never).validate(), /containerPort/);
    const noSelector = structuredClone(find('Deployment', 'hades'));
    delete noSelector.spec.selector;
    assert.throws(() => new DeploymentModel(noSelector as never).validate(), /selector/);
  });

  it('every workload runs the image as a non-root user with a read-only root fs', () => {
    for (const { obj } of objects.filter((o) => ['Deployment', 'DaemonSet'].includes(o.obj.kind))) {
      const c = containerOf(obj);
      const pod = podSpec(obj);
      assert.equal(c.image, IMAGE, `${obj.metadata.name}: image`);
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${obj.metadata.name}: runAsNonRoot`);
      assert.ok(pod.securityContext?.runAsUser > 0, `${obj.metadata.name}: runAsUser`);
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${obj.metadata.name}: read-only root`);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${obj.metadata.name}`);
      assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${obj.metadata.name}: drop ALL`);
      // hades is the ENTRYPOINT; the others name their program, which must exist
      const program = c.command
        ? /^\/app\/dist\/src\/bin\/([a-z-]+)\.js$/.exec(c.command.at(-1) ?? '')?.[1]
        : 'hades';
      assert.ok(program, `${obj.metadata.name}: command ${JSON.stringify(c.command)}`);
      if (c.command) assert.equal(c.command[0], 'node');
      assert.equal(program, obj.metadata.name, `${obj.metadata.name} runs ${program}`);
      assert.ok(existsSync(join(ROOT, 'src', 'bin', `${program}.ts`)), `src/bin/${program}.ts`);
      for (const [k, v] of Object.entries(obj.spec.selector.matchLabels as Record<string, string>))
        assert.equal(
          obj.spec.template.metadata.labels[k],
          v,
          `${obj.metadata.name}: selector matches the pod`,
        );
    }
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^WORKDIR \/app$/m);
    // every stage (build, the native addon's headers, runtime) on Node 24 LTS, the one npm test also runs
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.ok(bases.length > 0);
    for (const b of bases) assert.match(b, /^node:24-/, `FROM ${b}`);
    // hades, the ENTRYPOINT, runs node with the flags of its bin's shebang
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
    assert.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
    assert.deepEqual(JSON.parse(entrypoint[1]), ['node', ...HADES_NODE_FLAGS, 'dist/src/bin/hades.js']);
  });

  it('hades: ≥ 2 replicas, DNS on 0.0.0.0:53, probes and scrape on -metrics-port', () => {
    const d = find('Deployment', 'hades');
    assert.ok(d.spec.replicas >= 2);
    const c = containerOf(d);
    // the image's ENTRYPOINT (node with HADES_NODE_FLAGS, checked above), or a command with them
    if (c.command) assert.deepEqual(c.command, ['node', ...HADES_NODE_FLAGS, '/app/dist/src/bin/hades.js']);
    const env = envOf(c);
    const { config } = parseHadesArgs(argsOf(c, env), env);
    assert.deepEqual([config.listen.host, config.listen.port], ['0.0.0.0', 53]);
    assert.equal(config.mode, 'server');
    assert.deepEqual(config.machines, etcdEndpoints());
    assert.ok(config.machines.length > 0, 'hades runs on etcd');
    assert.ok(config.zones.length > 0);
    assert.equal(config.metricsHost, '0.0.0.0', 'the kubelet reaches the probes');
    assert.ok(config.metricsPort > 0);
    const udp = (c.ports ?? []).find((p) => p.containerPort === 53 && p.protocol === 'UDP');
    const tcp = (c.ports ?? []).find((p) => p.containerPort === 53 && p.protocol === 'TCP');
    assert.ok(udp && tcp, 'container ports 53/UDP and 53/TCP');
    assertProbes(c, config.metricsPort);
    const ann = podSpecAnnotations(d);
    assert.equal(ann['prometheus.io/scrape'], 'true');
    assert.equal(ann['prometheus.io/port'], String(config.metricsPort));
    assert.equal(ann['prometheus.io/path'], '/metrics');
    assert.ok(c.securityContext?.capabilities?.add?.includes('NET_BIND_SERVICE'));
    assert.equal(podSpec(d).dnsPolicy, 'Default', 'the cluster DNS does not resolve through itself');

    const svc = find('Service', 'hades');
    assert.match(svc.spec.clusterIP, /^\d+\.\d+\.\d+\.\d+$/, 'a fixed clusterIP for --cluster-dns');
    assert.deepEqual(svc.spec.selector, d.spec.selector.matchLabels);
    const svcPorts = svc.spec.ports as { port: number; protocol: string; targetPort: string }[];
    for (const proto of ['UDP', 'TCP']) {
      const p = svcPorts.find((x) => x.port === 53 && x.protocol === proto);
      assert.ok(p, `Service hades: 53/${proto}`);
      const target = portNamed(c, p.targetPort);
      assert.deepEqual([target.containerPort, target.protocol], [53, proto]);
    }
  });

  it('hades-kubeapi: RBAC lists and watches services and endpointslices', () => {
    const role = find('ClusterRole', 'hades-kubeapi');
    const allows = (group: string, resource: string, verb: string): boolean =>
      (role.rules ?? []).some(
        (r) =>
          (r.apiGroups ?? []).includes(group) &&
          (r.resources ?? []).includes(resource) &&
          (r.verbs ?? []).includes(verb),
      );
    for (const verb of ['list', 'watch']) {
      assert.ok(allows('', 'services', verb), `services ${verb}`);
      assert.ok(allows('discovery.k8s.io', 'endpointslices', verb), `endpointslices ${verb}`);
    }
    for (const r of role.rules ?? [])
      for (const verb of r.verbs) assert.ok(['get', 'list', 'watch'].includes(verb), `read-only: ${verb}`);
    const binding = find('ClusterRoleBinding', 'hades-kubeapi');
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    const d = find('Deployment', 'hades-kubeapi');
    const sa = find('ServiceAccount', podSpec(d).serviceAccountName);
    assert.ok(
      (binding.subjects ?? []).some(
        (s) => s.kind === 'ServiceAccount' && s.name === sa.metadata.name && s.namespace === NAMESPACE,
      ),
      'the binding names the Deployment service account',
    );
  });

  it('hades-kubeapi: 2 replicas, its ConfigMap file builds a config, probes on the API port', () => {
    const d = find('Deployment', 'hades-kubeapi');
    assert.equal(d.spec.replicas, 2);
    const { c, env, args } = podFlags(d, kubeapiFlagSpecs());
    let { parsed } = podFlags(d, kubeapiFlagSpecs());
    // in-cluster: no master URL nor kubeconfig, the service account is used
    assert.equal(parsed.values['kube-master-url'], '');
    assert.equal(parsed.values.kubeconfig, '');
    if (!existsSync(SA_TOKEN))
      parsed = parseWithConfigFile(
        kubeapiFlagSpecs(),
        [...args, '-kube-master-url=https://10.96.0.1'],
        env,
        'config-file',
      );
    const cfg = buildKubeapiConfig(parsed.values);
    assert.equal(cfg.kube.enable, true);
    assert.equal(cfg.api.enable, true);
    assert.equal(cfg.api.hadesAuth, SECRET_VALUE, 'the token comes from the Secret');
    assert.deepEqual(cfg.machines, etcdEndpoints());
    assert.equal(cfg.api.address?.host, '0.0.0.0');
    const port = cfg.api.address?.port ?? 0;
    assert.equal(port, 9001);
    assertProbes(c, port);
    // metrics on their own port; the probes stay on the API's (its /ready asks etcd)
    assertScraped(d, c, cfg);
    assert.notEqual(cfg.metricsPort, port);
    const svc = find('Service', 'hades-api');
    assert.deepEqual(svc.spec.selector, d.spec.selector.matchLabels);
    const sp = (svc.spec.ports as { port: number; targetPort: string }[]).find((p) => p.port === 9001);
    assert.ok(sp, 'Service hades-api on 9001');
    assert.equal(portNamed(c, sp.targetPort).containerPort, port);
  });

  it('hades-scanner: a DaemonSet, its ConfigMap file builds a config, NET_RAW for ping', () => {
    const ds = find('DaemonSet', 'hades-scanner');
    const { c, env, parsed } = podFlags(ds, scannerFlagSpecs());
    const cfg = buildScannerConfig(parsed.values, env);
    assert.equal(cfg.hostname, NODE_NAME, 'one scanner per node, named after it');
    assert.deepEqual(cfg.machines, etcdEndpoints());
    assertScraped(ds, c, cfg);
    assertProbes(c, cfg.metricsPort);
    if (cfg.enableIcmp) assert.ok(c.securityContext?.capabilities?.add?.includes('NET_RAW'));
  });

  it('hades-schedule: 2 replicas, its ConfigMap file builds a config, probes and scrape on -metrics-port', () => {
    const d = find('Deployment', 'hades-schedule');
    assert.equal(d.spec.replicas, 2);
    const { c, env, parsed } = podFlags(d, scheduleFlagSpecs());
    const cfg = buildScheduleConfig(parsed.values, env);
    assertScraped(d, c, cfg);
    assertProbes(c, cfg.metricsPort);
    assert.deepEqual(cfg.machines, etcdEndpoints());
    assert.equal(cfg.lockPath, '/hades/monitor/lock');
    // the scanner's and the scheduler's key layout agree
    const scanner = buildScannerConfig(
      podFlags(find('DaemonSet', 'hades-scanner'), scannerFlagSpecs()).parsed.values,
      { HADES_HOSTNAME: NODE_NAME },
    );
    assert.deepEqual(
      [cfg.statusPath, cfg.reportPath, cfg.heartPath],
      [scanner.statusPath, scanner.reportPath, scanner.heartPath],
    );
  });

  it('the programs scraped by annotation use distinct metrics ports', () => {
    const ports = ['hades-kubeapi', 'hades-schedule']
      .map((n) => podSpecAnnotations(find('Deployment', n))['prometheus.io/port'])
      .concat(podSpecAnnotations(find('DaemonSet', 'hades-scanner'))['prometheus.io/port']);
    assert.equal(new Set(ports).size, 3, ports.join(', '));
  });

  it('the ConfigMap holds the three INI files, each parsing with src/config/ini.ts', () => {
    const data = configMap().data ?? {};
    for (const f of ['hades-api.conf', 'hades-scanner.conf', 'hades-schedule.conf']) {
      assert.ok(f in data, f);
      const ini = parseIni(data[f], f);
      assert.ok(ini.size > 0, `${f}: keys`);
      assert.equal(
        ini.get(f === 'hades-api.conf' ? 'general.etcd-server' : 'etcd.etcd-machine'),
        data['etcd-endpoints'],
      );
    }
  });
});

function podSpecAnnotations(o: Obj): Record<string, string> {
  return o.spec.template.metadata.annotations ?? {};
}
