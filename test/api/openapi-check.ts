/**
 * A structural check of an OpenAPI 3.0 document: the required top-level fields, every operation
 * with responses and a unique operationId, path parameters declared, every $ref resolving, every
 * schema typed or a $ref. Returns the problems found ([] = valid).
 */
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
type Obj = { [k: string]: unknown };
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function validateOpenApi(doc: unknown): string[] {
  const errs: string[] = [];
  if (!isObj(doc)) return ['document is not an object'];
  if (typeof doc.openapi !== 'string' || !/^3\.0\.\d+$/.test(doc.openapi)) errs.push('openapi must be 3.0.x');
  const info = doc.info;
  if (!isObj(info) || typeof info.title !== 'string' || typeof info.version !== 'string')
    errs.push('info.title and info.version are required');
  if (!isObj(doc.paths)) return [...errs, 'paths is required'];
  const resolve = (ref: string): unknown => {
    if (!ref.startsWith('#/')) return undefined;
    let cur: unknown = doc;
    for (const part of ref.slice(2).split('/')) cur = isObj(cur) ? cur[part] : undefined;
    return cur;
  };
  const walk = (v: unknown, at: string): void => {
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) walk(v[i], `${at}[${i}]`);
    else if (isObj(v)) {
      if (typeof v.$ref === 'string' && resolve(v.$ref) === undefined)
        errs.push(`${at}: $ref ${v.$ref} does not resolve`);
      for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
    }
  };
  walk(doc, '$');
  const ids = new Set<string>();
  for (const [p, item] of Object.entries(doc.paths)) {
    if (!p.startsWith('/')) errs.push(`path ${p} must start with /`);
    if (!isObj(item)) continue;
    const params = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const m of METHODS) {
      const op = item[m];
      if (op === undefined) continue;
      const at = `${m.toUpperCase()} ${p}`;
      if (!isObj(op)) {
        errs.push(`${at}: not an object`);
        continue;
      }
      if (!isObj(op.responses) || Object.keys(op.responses).length === 0) errs.push(`${at}: no responses`);
      else
        for (const [code, r] of Object.entries(op.responses)) {
          if (!/^([1-5]\d\d|default)$/.test(code)) errs.push(`${at}: bad response code ${code}`);
          if (!isObj(r) || (typeof r.$ref !== 'string' && typeof r.description !== 'string'))
            errs.push(`${at} ${code}: a response needs a description`);
        }
      if (typeof op.operationId !== 'string') errs.push(`${at}: no operationId`);
      else if (ids.has(op.operationId)) errs.push(`${at}: duplicate operationId ${op.operationId}`);
      else ids.add(op.operationId);
      const declared = Array.isArray(op.parameters)
        ? op.parameters.filter((x): x is Obj => isObj(x) && x.in === 'path').map((x) => x.name)
        : [];
      for (const name of params)
        if (!declared.includes(name)) errs.push(`${at}: path parameter {${name}} not declared`);
    }
  }
  const schemas = isObj(doc.components) && isObj(doc.components.schemas) ? doc.components.schemas : {};
  for (const [name, s] of Object.entries(schemas))
    if (!isObj(s) || (typeof s.type !== 'string' && typeof s.$ref !== 'string'))
      errs.push(`schema ${name}: no type`);
  return errs;
}
