/** Public surface of src/records: names, key layout, record JSON, health JSON, reverse names, IPs. */
export { RecordError } from './errors.js';
export type { AdminState } from './health.js';
export {
  ADMIN_STATES,
  DEFAULT_MONITOR_PATH,
  HEALTH_STATES,
  healthKey,
  ipFromHealthKey,
  isDrained,
  normalizeMonitorPath,
  parseHealthStatus,
  serializeHealthStatus,
} from './health.js';
export type { IPKind, ParsedIP } from './ip.js';
export { canonicalIP, formatIPv4, formatIPv6, parseIP, parseIPv4, parseIPv6 } from './ip.js';
export { DEFAULT_PREFIX, keyToName, nameToKey, normalizePrefix } from './keys.js';
export {
  asciiLower,
  canonicalName,
  isInZone,
  MAX_LABEL_OCTETS,
  MAX_NAME_OCTETS,
  NameError,
  parseName,
  splitLabels,
} from './names.js';
export type {
  GrpcProbe,
  HttpGetProbe,
  IcmpProbe,
  Probe,
  ProbeHandler,
  ProbeKind,
  StatusRange,
  TcpSocketProbe,
} from './probe.js';
export {
  DEFAULT_EXPECT_STATUS,
  describeProbe,
  MAX_PROBE_BODY,
  PROBE_KINDS,
  parseProbe,
  parseStatusRanges,
  statusMatches,
} from './probe.js';
export type { DropHandler, HostInfo, ParseMode, RecordField } from './record.js';
export {
  classifyHost,
  fnv1a32,
  hostInfo,
  leafKey,
  MAX_TAG_OCTETS,
  MAX_TEXT_OCTETS,
  MAX_TTL,
  MAX_U16,
  parseRecordValue,
  RECORD_FIELDS,
  serializeRecordValue,
  toRecord,
} from './record.js';
export { ipFromReverseName, reverseName } from './reverse.js';
export type { Cidr, TopologyValue } from './topology.js';
export {
  checkZoneName,
  DEFAULT_TOPOLOGY_PATH,
  MAX_ZONE_CIDRS,
  normalizeTopologyPath,
  parseCidr,
  parseTopologyValue,
  serializeTopologyValue,
  Topology,
  topologyFromObject,
  topologyKey,
  zoneFromTopologyKey,
} from './topology.js';
export type {
  AllDownPolicy,
  HealthState,
  HealthStatus,
  HostKind,
  Record,
  RecordValue,
  SelectPolicy,
} from './types.js';
export { ALL_DOWN_POLICIES, SELECT_POLICIES } from './types.js';
