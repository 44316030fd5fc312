// Checks responses against the service's own contract: the OpenAPI 3.1 document it serves at
// GET /openapi.json (docs/openapi.json, compiled into the binary). Every response received by
// service.api() goes through validateResponse() (startService registers it; see service.mjs):
// the route template, the method, the status, the media type, the JSON body (Ajv, JSON Schema
// 2020-12, with formats) and the documented headers. Anything undocumented fails the test that
// received it.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// Headers whose presence is itself part of the contract: when a response does not document one
// of them, it must not be there.
const MANAGED_HEADERS = [
  'x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset', 'retry-after', 'allow', 'idempotent-replayed',
];
const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const RATE_HEADERS = ['x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset'];

export class ContractError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ContractError';
  }
}

// RFC 6531 addresses as the service accepts them: local@domain, at most 254 characters, no
// whitespace or control characters, a local part of at most 64 and dot-separated domain labels.
function isIdnEmail(text) {
  if (text.length > 254 || /[\s\x00-\x1f\x7f]/u.test(text)) return false;
  const at = text.indexOf('@');
  if (at <= 0 || at !== text.lastIndexOf('@')) return false;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if ([...local].length > 64 || local.split('.').some((part) => part === '')) return false;
  return domain.split('.').every((label) => label.length > 0 && !label.startsWith('-') && !label.endsWith('-'));
}

// Rewrites local refs (#/components/schemas/X) so they point into the registered $defs schema.
function rewriteRefs(node) {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
      out[key] = `urn:invited:openapi#/$defs/${value.slice('#/components/schemas/'.length)}`;
    } else {
      out[key] = rewriteRefs(value);
    }
  }
  return out;
}

function splitPath(path) {
  const bare = path.split('?')[0];
  if (!bare.startsWith('/')) return null;
  const segments = bare.slice(1).split('/');
  return segments.some((s) => s === '') ? null : segments;
}

export class OpenApiContract {
  constructor(document) {
    this.document = document;
    this.ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
    addFormats(this.ajv);
    this.ajv.addFormat('idn-email', { type: 'string', validate: isIdnEmail });
    // OpenAPI's discriminator is a hint for client generators: the oneOf beside it decides (the
    // branches exclude each other by the discriminating property's const; openapi.test.mjs
    // checks that the mapping agrees with them).
    this.ajv.addKeyword('discriminator');
    this.ajv.addSchema({ $id: 'urn:invited:openapi', $defs: rewriteRefs(document.components?.schemas ?? {}) });
    this.compiled = new Map();
    this.templates = Object.keys(document.paths).map((template) => ({
      template,
      segments: template.slice(1).split('/'),
      item: document.paths[template],
    }));
  }

  // Follows a local $ref (#/components/...) to its object.
  resolve(node) {
    let current = node;
    for (let hops = 0; current && current.$ref && hops < 10; hops++) {
      if (!current.$ref.startsWith('#/')) throw new ContractError(`non-local $ref ${current.$ref}`);
      current = current.$ref.slice(2).split('/').reduce((at, key) => at?.[key], this.document);
      if (!current) throw new ContractError(`unresolved $ref ${node.$ref}`);
    }
    return current;
  }

  validator(key, schema) {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(rewriteRefs(schema));
      this.compiled.set(key, validate);
    }
    return validate;
  }

  // Every documented operation as {method, template, operation}.
  operations() {
    const out = [];
    for (const { template, item } of this.templates) {
      for (const method of METHODS) if (item[method]) out.push({ method: method.toUpperCase(), template, operation: item[method] });
    }
    return out;
  }

  // The templates a concrete path matches, most literal first.
  matchPath(path) {
    const segments = splitPath(path);
    if (!segments) return [];
    const matches = [];
    for (const candidate of this.templates) {
      if (candidate.segments.length !== segments.length) continue;
      let literals = 0;
      const ok = candidate.segments.every((segment, i) => {
        // Every path parameter of this API is a UUID; the service routes nothing else to one.
        if (/^\{[^}]+\}$/.test(segment)) return UUID_TEXT.test(segments[i]);
        literals += 1;
        return segment === segments[i];
      });
      if (ok) matches.push({ ...candidate, literals });
    }
    return matches.sort((a, b) => b.literals - a.literals);
  }

  // The operation answering `method path`, or why there is none: {kind: 'operation'|'notFound'|'methodNotAllowed', ...}.
  // Only the most literal templates describe a path (/invites/bulk is not /invites/{id}), and
  // every GET also answers HEAD (same status and headers, no body).
  route(method, path) {
    const all = this.matchPath(path);
    if (all.length === 0) return { kind: 'notFound' };
    const matches = all.filter((m) => m.literals === all[0].literals);
    const lower = method.toLowerCase();
    const found = matches.find((m) => m.item[lower]) ?? (lower === 'head' ? matches.find((m) => m.item.get) : undefined);
    if (!found) {
      const allow = new Set(matches.flatMap((m) => METHODS.filter((x) => m.item[x]).map((x) => x.toUpperCase())));
      if (allow.has('GET')) allow.add('HEAD');
      return { kind: 'methodNotAllowed', allow };
    }
    return { kind: 'operation', template: found.template, operation: found.item[lower] ?? found.item.get };
  }

  fallback(name) {
    const pointer = this.document['x-fallback-responses']?.[name];
    if (!pointer) throw new ContractError(`x-fallback-responses.${name} is not documented`);
    return this.resolve({ $ref: pointer });
  }

  // Validates one response. `response`: {status, headers (a Headers), body (parsed JSON or text)}.
  // `context.rateLimitOn`: whether the service runs with its per-minute limit (then the
  // rate-limit headers marked x-required-when: request-limit-on must be present).
  // Returns the list of problems (empty when the response conforms).
  check(method, path, response, context = {}) {
    const problems = [];
    const where = `${method} ${path} → ${response.status}`;
    const route = this.route(method, path);
    const pagePrefix = this.document['x-fallback-responses']?.pagePrefix;
    const pages = Boolean(pagePrefix) && path.split('?')[0].startsWith(pagePrefix);
    let responseObject;
    let key;
    if (route.kind === 'operation') {
      const responses = route.operation.responses ?? {};
      const status = String(response.status);
      const documented = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
      if (!documented) {
        problems.push(`${where}: status ${status} is not documented for ${method} ${route.template} (documented: ${Object.keys(responses).join(', ')})`);
        return problems;
      }
      responseObject = this.resolve(documented);
      key = `${method} ${route.template} ${status}`;
    } else if (response.status === 503) {
      // Too many open connections: answered before routing, on any path.
      responseObject = this.resolve({ $ref: '#/components/responses/Unavailable' });
      key = 'fallback 503';
    } else if (route.kind === 'notFound') {
      if (response.status !== 404) {
        problems.push(`${where}: no documented path matches ${path}, so only 404 is expected`);
        return problems;
      }
      responseObject = this.fallback(pages ? 'pageNotFound' : 'notFound');
      key = `fallback 404 ${pages}`;
    } else if (method.toUpperCase() === 'OPTIONS' && response.status === 204 && !pages) {
      // A CORS preflight (--cors-origins): the path's methods, as its Allow header lists them.
      responseObject = this.fallback('corsPreflight');
      key = 'fallback 204 preflight';
      const methods = (response.headers.get('access-control-allow-methods') ?? '').split(',').map((m) => m.trim()).filter(Boolean);
      const expected = [...route.allow].sort().join(', ');
      if ([...methods].sort().join(', ') !== expected) {
        problems.push(`${where}: access-control-allow-methods is "${response.headers.get('access-control-allow-methods')}" but the document has ${expected} on this path`);
      }
    } else {
      if (response.status !== 405) {
        problems.push(`${where}: ${method} is not documented on ${path} (documented: ${[...route.allow].join(', ')}), so only 405 is expected`);
        return problems;
      }
      responseObject = this.fallback(pages ? 'pageMethodNotAllowed' : 'methodNotAllowed');
      key = `fallback 405 ${pages}`;
      const allow = new Set((response.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean));
      const expected = [...route.allow].sort().join(', ');
      if ([...allow].sort().join(', ') !== expected) {
        problems.push(`${where}: Allow is "${response.headers.get('allow')}" but the document has ${expected} on this path`);
      }
    }

    this.checkHeaders(where, key, responseObject, response.headers, context, problems);
    if (method.toUpperCase() === 'HEAD') {
      if ((response.text ?? '') !== '') problems.push(`${where}: a HEAD response has no body`);
    } else {
      this.checkContent(where, key, responseObject, response, problems);
    }
    return problems;
  }

  checkHeaders(where, key, responseObject, headers, context, problems) {
    const documented = {};
    for (const [name, header] of Object.entries(responseObject.headers ?? {})) documented[name.toLowerCase()] = this.resolve(header);
    for (const [name, header] of Object.entries(documented)) {
      const value = headers.get(name);
      const requiredNow = header.required === true || (header['x-required-when'] === 'request-limit-on' && context.rateLimitOn);
      if (value === null) {
        if (requiredNow) problems.push(`${where}: header ${name} is required but missing`);
        continue;
      }
      if (!header.schema) continue;
      const types = [header.schema.type].flat();
      const coerced = types.includes('integer') && /^-?\d+$/.test(value) ? Number(value) : value;
      const validate = this.validator(`${key} header ${name}`, header.schema);
      if (!validate(coerced)) {
        problems.push(`${where}: header ${name}: ${JSON.stringify(value)} ${this.ajv.errorsText(validate.errors)}`);
      }
    }
    for (const name of MANAGED_HEADERS) {
      if (headers.get(name) !== null && !documented[name]) {
        problems.push(`${where}: header ${name} is sent but not documented for this response`);
      }
    }
    const present = RATE_HEADERS.filter((name) => headers.get(name) !== null);
    if (present.length !== 0 && present.length !== RATE_HEADERS.length) {
      problems.push(`${where}: rate-limit headers come all together or not at all; got ${present.join(', ')}`);
    }
  }

  checkContent(where, key, responseObject, response, problems) {
    const content = responseObject.content;
    const type = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (!content) {
      if ((response.text ?? '') !== '') problems.push(`${where}: a body is sent but none is documented`);
      return;
    }
    const media = content[type];
    if (!media) {
      problems.push(`${where}: content-type ${type || '(none)'} is not documented (documented: ${Object.keys(content).join(', ')})`);
      return;
    }
    if (!media.schema) return;
    let body = response.body;
    if (type === 'application/json' && typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        problems.push(`${where}: the body is not JSON: ${body.slice(0, 200)}`);
        return;
      }
    }
    const validate = this.validator(`${key} ${type}`, media.schema);
    if (!validate(body)) {
      problems.push(`${where}: body does not match the documented schema: ${this.ajv.errorsText(validate.errors, { separator: '; ' })}\n  body: ${JSON.stringify(body).slice(0, 600)}`);
    }
  }

  // Compiles every response body and header schema of the document (so a schema Ajv cannot
  // compile fails at once, not when a response first needs it). Returns how many were compiled.
  compileAll() {
    let count = 0;
    const responseObjects = [];
    for (const { method, template, operation } of this.operations()) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        responseObjects.push([`${method} ${template} ${status}`, this.resolve(response)]);
      }
    }
    for (const [name, response] of Object.entries(this.document.components?.responses ?? {})) {
      responseObjects.push([`component ${name}`, response]);
    }
    for (const [key, response] of responseObjects) {
      for (const [type, media] of Object.entries(response.content ?? {})) {
        if (media.schema) {
          this.validator(`${key} ${type} (compileAll)`, media.schema);
          count += 1;
        }
      }
      for (const [name, header] of Object.entries(response.headers ?? {})) {
        const schema = this.resolve(header).schema;
        if (schema) {
          this.validator(`${key} header ${name} (compileAll)`, schema);
          count += 1;
        }
      }
    }
    return count;
  }

  // Like check(), but throws a ContractError naming every problem.
  assertResponse(method, path, response, context) {
    const problems = this.check(method, path, response, context);
    if (problems.length) throw new ContractError(`response does not match /openapi.json:\n- ${problems.join('\n- ')}`);
  }
}

// Whether a service started with these args and env runs the per-minute request limit (and so
// sends the rate-limit headers): on unless set to 0.
export function rateLimitOn({ args = [], env = {} } = {}) {
  let value = env.INVITED_RATE_LIMIT_PER_MINUTE ?? process.env.INVITED_RATE_LIMIT_PER_MINUTE;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--rate-limit-per-minute') value = args[i + 1];
    else if (args[i].startsWith('--rate-limit-per-minute=')) value = args[i].split('=')[1];
  }
  return value === undefined || Number(value) !== 0;
}

const contracts = new Map(); // document text → OpenApiContract (compiled once per test process)

// The contract the running service serves at GET /openapi.json.
export async function contractOf(service) {
  const response = await service.fetch('/openapi.json');
  const text = await response.text();
  if (response.status !== 200) throw new ContractError(`GET /openapi.json answered ${response.status}`);
  let contract = contracts.get(text);
  if (!contract) {
    contract = new OpenApiContract(JSON.parse(text));
    contracts.set(text, contract);
  }
  return contract;
}

// A response hook for service.api(): throws when a response does not match the contract.
export async function responseValidatorFor(service, startOptions = {}) {
  const contract = await contractOf(service);
  const context = { rateLimitOn: rateLimitOn(startOptions) };
  return (method, path, response) => contract.assertResponse(method, path, response, context);
}
