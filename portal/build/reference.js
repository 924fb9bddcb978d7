// Reference pages: the SDL by type, each entity's JSON Schema as a field table, the REST API.
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
} from 'graphql';
import { esc, inline, paragraphs, slug, table } from './html.js';
import { ENTITIES, entitySchema, paths, readJson, readText } from './source.js';

// ---- GraphQL ---------------------------------------------------------------------------------

function typeLink(type) {
  const named = getNamedType(type);
  const text = esc(String(type));
  if (named.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(named.name)) {
    return `<code>${text}</code>`;
  }
  return `<a href="#type-${slug(named.name)}"><code>${text}</code></a>`;
}

function argList(args) {
  if (!args.length) return '';
  const items = args.map((arg) => {
    const fallback = arg.defaultValue !== undefined ? ` = ${esc(JSON.stringify(arg.defaultValue))}` : '';
    const description = arg.description ? ` — ${inline(arg.description)}` : '';
    return `<li><code>${esc(arg.name)}</code>: ${typeLink(arg.type)}${fallback}${description}</li>`;
  });
  return `<ul class="args">${items.join('')}</ul>`;
}

function fieldRows(typeName, fields) {
  return Object.values(fields).map((field) => [
    `<code id="field-${slug(typeName)}-${slug(field.name)}">${esc(field.name)}</code>${
      field.deprecationReason ? ` <span class="tag">deprecated: ${inline(field.deprecationReason)}</span>` : ''
    }`,
    typeLink(field.type),
    `${inline(field.description || '')}${argList(field.args || [])}`,
  ]);
}

function kindOf(type) {
  if (isObjectType(type)) return 'type';
  if (isInputObjectType(type)) return 'input';
  if (isEnumType(type)) return 'enum';
  if (isScalarType(type)) return 'scalar';
  if (isInterfaceType(type)) return 'interface';
  if (isUnionType(type)) return 'union';
  return 'type';
}

function renderType(type) {
  const kind = kindOf(type);
  const id = `type-${slug(type.name)}`;
  let body = '';
  if (isObjectType(type) || isInputObjectType(type) || isInterfaceType(type)) {
    body = table(['Field', 'Type', 'Description'], fieldRows(type.name, type.getFields()), {
      caption: `Fields of ${esc(type.name)}`,
    });
  } else if (isEnumType(type)) {
    body = table(
      ['Value', 'Description'],
      type.getValues().map((value) => [`<code>${esc(value.name)}</code>`, inline(value.description || '')]),
      { caption: `Values of ${esc(type.name)}` },
    );
  } else if (isUnionType(type)) {
    body = `<p>One of: ${type.getTypes().map(typeLink).join(', ')}</p>`;
  } else if (isScalarType(type) && type.specifiedByURL) {
    body = `<p>Specified by <a href="${esc(type.specifiedByURL)}">${esc(type.specifiedByURL)}</a>.</p>`;
  }
  return `<section class="type" id="${id}" aria-labelledby="${id}-h">
<h3 id="${id}-h"><span class="kind">${kind}</span> ${esc(type.name)}</h3>
${paragraphs(type.description)}
${body}
</section>`;
}

export function graphqlReference() {
  const schema = buildSchema(readText(paths.schema));
  const roots = [schema.getQueryType(), schema.getMutationType()].filter(Boolean);
  const others = Object.values(schema.getTypeMap())
    .filter((type) => !type.name.startsWith('__') && !roots.includes(type))
    .filter((type) => !['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name))
    .sort((a, b) => a.name.localeCompare(b.name));
  const index = [...roots, ...others]
    .map((type) => `<li><a href="#type-${slug(type.name)}">${esc(type.name)}</a></li>`)
    .join('');
  return {
    'graphql-index': `<ul class="type-index">${index}</ul>`,
    'graphql-roots': roots.map(renderType).join('\n'),
    'graphql-types': others.map(renderType).join('\n'),
    'graphql-type-count': String(roots.length + others.length),
  };
}

// ---- JSON Schema field tables ------------------------------------------------------------------

function resolveRef(schema, node) {
  if (node && node.$ref) return schema.$defs[node.$ref.split('/').pop()];
  return node;
}

/** Strip the `anyOf: [X, {type: null}]` wrapper optional fields get. */
function unwrap(node) {
  if (node && node.anyOf) {
    const real = node.anyOf.filter((part) => part.type !== 'null');
    if (real.length === 1) return { ...real[0], nullable: true };
    return { ...node, choices: real };
  }
  return node;
}

function typeText(schema, node) {
  const plain = unwrap(node);
  if (plain.$ref) {
    const name = plain.$ref.split('/').pop();
    const target = schema.$defs[name];
    if (target.enum) return `string (${esc(name)})`;
    return `<a href="#def-${slug(schema.title)}-${slug(name)}">${esc(name)}</a>`;
  }
  if (plain.choices) return plain.choices.map((choice) => typeText(schema, choice)).join(' or ');
  if (plain.type === 'array') return `array of ${typeText(schema, plain.items || {})}`;
  if (plain.type === 'object' && plain.additionalProperties) {
    return `map of ${typeText(schema, plain.additionalProperties)}`;
  }
  if (plain.format) return `${esc(plain.type)} (${esc(plain.format)})`;
  return esc(plain.type || 'any');
}

function allowed(schema, node) {
  const plain = unwrap(node);
  const target = resolveRef(schema, plain.$ref ? plain : plain.items ? plain.items : plain);
  const values = (target && target.enum) || plain.enum;
  const notes = [];
  if (values) notes.push(values.map((value) => `<code>${esc(value)}</code>`).join(', '));
  for (const [key, label] of [
    ['pattern', 'pattern'],
    ['minLength', 'min length'],
    ['maxLength', 'max length'],
    ['minimum', 'min'],
    ['maximum', 'max'],
    ['maxItems', 'max items'],
  ]) {
    if (plain[key] !== undefined) notes.push(`${label} <code>${esc(plain[key])}</code>`);
  }
  return notes.join('<br>');
}

function exampleOf(node, fromExample) {
  const plain = unwrap(node);
  const value = fromExample !== undefined ? fromExample : plain.examples ? plain.examples[0] : undefined;
  return value === undefined ? '' : `<code>${esc(JSON.stringify(value))}</code>`;
}

function fieldTable(schema, object, caption, example = {}) {
  const required = new Set(object.required || []);
  const rows = Object.entries(object.properties || {}).map(([name, node]) => [
    `<code>${esc(name)}</code>`,
    typeText(schema, node),
    required.has(name) ? '<strong>required</strong>' : 'optional',
    allowed(schema, node),
    inline(unwrap(node).description || node.description || ''),
    exampleOf(node, example[name]),
  ]);
  return table(['Field', 'Type', 'Required', 'Allowed values', 'Description', 'Example'], rows, {
    caption,
    className: 'fields',
  });
}

export function entityReference() {
  const sections = ENTITIES.map((entity) => {
    const schema = entitySchema(entity);
    const defs = Object.entries(schema.$defs || {})
      .filter(([, def]) => def.properties)
      .map(
        ([name, def]) => `<section id="def-${slug(schema.title)}-${slug(name)}" aria-labelledby="def-${slug(
          schema.title,
        )}-${slug(name)}-h">
<h4 id="def-${slug(schema.title)}-${slug(name)}-h">${esc(schema.title)} › ${esc(name)}</h4>
${paragraphs(def.description)}
${fieldTable(schema, def, `${esc(name)} fields`)}
</section>`,
      )
      .join('\n');
    return `<section class="entity" id="entity-${entity}" aria-labelledby="entity-${entity}-h">
<h2 id="entity-${entity}-h">${esc(schema.title)}</h2>
${paragraphs(schema.description)}
<p>JSON Schema: <a href="/contracts/${entity}.schema.json"><code>/contracts/${entity}.schema.json</code></a>.
Unknown fields are ${schema.additionalProperties === false ? 'refused (<code>unknown_field</code>): put custom data in <code>attributes</code>' : 'kept'}.</p>
${fieldTable(schema, schema, `${esc(schema.title)} fields`, schema.examples[0])}
${defs}
</section>`;
  });
  const index = ENTITIES.map((entity) => `<li><a href="#entity-${entity}">${esc(entitySchema(entity).title)}</a></li>`);
  return { 'entity-index': `<ul>${index.join('')}</ul>`, 'entity-tables': sections.join('\n') };
}

// ---- REST (OpenAPI) ------------------------------------------------------------------------------

function schemaName(node) {
  if (!node) return '';
  if (node.$ref) return esc(node.$ref.split('/').pop());
  if (node.type === 'array') return `array of ${schemaName(node.items)}`;
  return esc(node.type || 'object');
}

function restOperation(path, method, op) {
  const id = `op-${slug(op.operationId || `${method}-${path}`)}`;
  const params = (op.parameters || []).map((param) => [
    `<code>${esc(param.name)}</code>`,
    esc(param.in),
    param.required ? '<strong>required</strong>' : 'optional',
    `${schemaName(param.schema)}${param.schema && param.schema.enum ? `: ${param.schema.enum.map((v) => `<code>${esc(v)}</code>`).join(', ')}` : ''}`,
    inline(param.description || ''),
  ]);
  const body = op.requestBody
    ? `<p>Request body (${Object.keys(op.requestBody.content)
        .map((type) => `<code>${esc(type)}</code>`)
        .join(', ')})${op.requestBody.required ? ', required' : ''}. ${inline(op.requestBody.description || '')}</p>`
    : '';
  const responses = Object.entries(op.responses || {}).map(([status, response]) => [
    `<code>${esc(status)}</code>`,
    inline(response.description || ''),
    Object.keys(response.content || {})
      .map((type) => `<code>${esc(type)}</code>`)
      .join(', '),
  ]);
  return `<section class="operation" id="${id}" aria-labelledby="${id}-h">
<h3 id="${id}-h"><span class="method method-${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>
<p class="summary">${inline(op.summary || '')}</p>
${paragraphs(op.description)}
${params.length ? table(['Parameter', 'In', 'Required', 'Type', 'Description'], params, { caption: `Parameters of ${method.toUpperCase()} ${esc(path)}` }) : ''}
${body}
${table(['Status', 'Meaning', 'Content'], responses, { caption: `Responses of ${method.toUpperCase()} ${esc(path)}` })}
</section>`;
}

export function restReference() {
  const spec = readJson(paths.openapi);
  const sections = [];
  const index = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      sections.push(restOperation(path, method, op));
      index.push(
        `<li><a href="#op-${slug(op.operationId || `${method}-${path}`)}">${method.toUpperCase()} ${esc(path)}</a></li>`,
      );
    }
  }
  const security = Object.entries(spec.components.securitySchemes || {})
    .map(([name, scheme]) => `<li><code>${esc(name)}</code>: ${esc(scheme.type)} ${esc(scheme.scheme || '')} — ${inline(scheme.description || '')}</li>`)
    .join('');
  return {
    'rest-title': `${esc(spec.info.title)} ${esc(spec.info.version)}`,
    'rest-intro': `${paragraphs(spec.info.description)}<ul>${security}</ul>`,
    'rest-index': `<ul>${index.join('')}</ul>`,
    'rest-operations': sections.join('\n'),
  };
}
