// The request bodies of docs/api.md's curl examples, and the TypeScript file that assigns each
// to its operation's request body type as openapi-typescript generates it from
// docs/openapi.json (tests/openapi/generated_types.test.mjs compiles it with tsc --strict).
import { OpenApiContract } from '../support/openapi.mjs';

// What a placeholder of api.md ($WEBSITE_ID, ...) stands for in a path: every path parameter of
// the API is a UUID.
const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';

// Every curl example of `markdown` (a ```sh block whose first line starts with curl) that sends
// a body: {line, method, path, mediaType, text, status}. `text` is the body as sent (a heredoc,
// or the fields of --data-urlencode / -d as a form); placeholders stay as they are written.
export function requestExamples(markdown) {
  const out = [];
  for (const match of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    const script = match[1];
    if (!script.startsWith('curl')) continue;
    const line = markdown.slice(0, match.index).split('\n').length;
    const status = Number(/^#\s*→\s*(\d{3})\s*$/m.exec(script)?.[1]);
    const method = /(?:-X|--request)\s+([A-Z]+)/.exec(script)?.[1] ?? (/\s(?:-d|--data\S*)\s/.test(script) ? 'POST' : 'GET');
    const url = /"\$BASE([^"\s]*)"/.exec(script)?.[1];
    const json = /content-type:\s*application\/json/i.test(script);
    const heredoc = /<<'?EOF'?\n([\s\S]*?)\nEOF$/m.exec(script)?.[1];
    const fields = [...script.matchAll(/\s(?:-d|--data|--data-raw|--data-urlencode)\s+(?:"([^"]*)"|'([^']*)')/g)].map((m) => m[1] ?? m[2]);
    let text;
    if (heredoc !== undefined) text = heredoc;
    else if (fields.length) text = fields.join('&');
    else continue;
    out.push({ line, method, path: url, mediaType: json ? 'application/json' : 'application/x-www-form-urlencoded', text, status });
  }
  return out;
}

// The body of an example as a value: JSON parsed, a form as an object of its fields. Throws when
// a JSON body does not parse.
export function bodyValue(example) {
  if (example.mediaType === 'application/json') return JSON.parse(example.text);
  return Object.fromEntries(example.text.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
  }));
}

// The operation an example calls, with the path template as openapi-typescript keys it.
// Throws when the document has no such operation, or it takes no body of that media type.
export function operationOf(contract, example) {
  const concrete = example.path.replace(/\$\{?[A-Z][A-Z0-9_]*\}?/g, SAMPLE_ID);
  const route = contract.route(example.method, concrete);
  if (route.kind !== 'operation') throw new Error(`${example.method} ${example.path}: no such operation in docs/openapi.json`);
  if (!route.operation.requestBody?.content?.[example.mediaType]) {
    throw new Error(`${example.method} ${route.template}: docs/openapi.json documents no ${example.mediaType} request body`);
  }
  return { template: route.template, method: example.method.toLowerCase() };
}

// The TypeScript source that assigns each example to its request body type, importing `paths`
// from `typesModule`. Returns {source, spans}: spans[i] = [first, last] line of examples[i].
export function typeScriptOf(document, examples, typesModule = './api') {
  const contract = new OpenApiContract(document);
  const lines = [
    `import type { paths } from '${typesModule}';`,
    '',
    '// The body type of the request of `paths[P][M]` for media type T (never when it has none).',
    'type RequestBody<P extends keyof paths, M extends keyof paths[P], T extends string> =',
    '  NonNullable<paths[P][M]> extends { requestBody?: infer R }',
    '    ? NonNullable<R> extends { content: infer C } ? (T extends keyof C ? C[T] : never) : never',
    '    : never;',
    '',
  ];
  const spans = [];
  examples.forEach((example, i) => {
    const { template, method } = operationOf(contract, example);
    const first = lines.length + 1;
    lines.push(`// ${example.where ?? `api.md line ${example.line}`}: ${example.method} ${template} (answered ${example.status})`);
    const value = JSON.stringify(bodyValue(example), null, 2);
    const type = `RequestBody<${JSON.stringify(template)}, ${JSON.stringify(method)}, ${JSON.stringify(example.mediaType)}>`;
    lines.push(...`export const example${i}: ${type} = ${value};`.split('\n'));
    spans.push([first, lines.length]);
    lines.push('');
  });
  return { source: `${lines.join('\n')}\n`, spans };
}
