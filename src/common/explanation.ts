/**
 * The JSON of hades's `/explain` (src/dns/explain.ts builds it; hades-apicmd's
 * src/api/explain-client.ts prints it): one shape for both sides.
 */

/** An address record of the name, as the answer saw it. */
export interface ExplainedAddress {
  address: string;
  key: string;
  health: 'UP' | 'DOWN' | 'unmonitored';
  drained: boolean;
  zone: string | null;
  tier: number;
  weight: number;
  candidate: boolean;
  chosen: boolean;
}

export interface Explanation {
  question: { name: string; type: string };
  client: {
    address: string;
    ecs: string | null;
    identity: 'source address' | 'ECS subnet';
    zone: string | null;
  };
  rcode: string;
  answer: { name: string; type: string; ttl: number; data: string }[];
  /** The name whose records answered, after the CNAME chain (the question's name when none). */
  name: string;
  policy: string;
  allDown: string;
  addresses: ExplainedAddress[];
  /** The tier the candidates come from (null under `all`, or no address family). */
  tier: number | null;
  /** The zone the candidates are limited to (null: the whole tier). */
  candidateZone: string | null;
  candidates: string[];
  chosen: string[];
  rule: string;
}
