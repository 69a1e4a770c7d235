//! TypeScript types rendered from the generated JSON Schemas, so the TypeScript, the JSON
//! Schema and the OpenAPI description cannot disagree: one source (the schemars schemas of
//! `cairn-shared`), the same contracts (requests as read, responses as written), the same docs.
//!
//! Only the JSON Schema constructs that schemars emits for Cairn's types are handled; anything
//! else stops the generator with a message instead of silently becoming `unknown`.

use serde_json::{Map, Value};

use crate::openapi::{Operation, Request, Success, code_name};

const HEADER: &str = "\
// GENERATED from the `cairn-shared` crate by `tests/tests/client_schema` (regenerate with
// `UPDATE_CLIENT_SCHEMA=1 cargo test -p cairn-tests --test client_schema`). Do not edit.
//
// Cairn's client contract in TypeScript: the plan document (schema v1; the same as
// plan.schema.json) and every body of the REST API (the same as openapi.json). Types only: use
// `import type`.
";

/// The whole `.ts` file.
pub fn render(
    plan_schema: &Value,
    components: &Map<String, Value>,
    operations: &[Operation],
) -> String {
    let mut out = String::from(HEADER);

    out.push_str("\n// ---- The plan document (schema v1) -------------------------------------------------\n");
    let mut plan_types = vec!["PlanDocument".to_owned()];
    let mut root = plan_schema.clone();
    let definitions = root
        .as_object_mut()
        .and_then(|root| root.remove("$defs"))
        .unwrap_or_default();
    if let Value::Object(root) = &mut root {
        for key in ["$schema", "title"] {
            root.remove(key);
        }
    }
    out.push_str(&declaration("PlanDocument", &root));
    if let Value::Object(definitions) = &definitions {
        for (name, schema) in sorted_entries(definitions) {
            out.push_str(&declaration(name, schema));
            plan_types.push(name.clone());
        }
    }

    out.push_str("\n// ---- The REST API (openapi.json) --------------------------------------------------\n");
    for (name, schema) in sorted_entries(components) {
        if !plan_types.contains(name) {
            out.push_str(&declaration(name, schema));
        }
    }

    out.push_str("\n// ---- Every operation ---------------------------------------------------------------\n");
    out.push_str(&operations_map(operations));
    out
}

fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// `export interface Name {…}` for an object with properties, else `export type Name = …;`.
fn declaration(name: &str, schema: &Value) -> String {
    let mut out = String::from("\n");
    out.push_str(&doc_comment(description(schema), ""));
    match schema.get("properties") {
        Some(Value::Object(_)) => {
            out.push_str(&format!("export interface {name} "));
            out.push_str(&object_literal(schema, ""));
            out.push('\n');
        }
        _ => out.push_str(&format!("export type {name} = {};\n", type_of(schema, ""))),
    }
    out
}

fn description(schema: &Value) -> Option<&str> {
    schema.get("description").and_then(Value::as_str)
}

fn doc_comment(text: Option<&str>, indent: &str) -> String {
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return String::new();
    };
    let text = text.replace("*/", "*\\/");
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() == 1 {
        return format!("{indent}/** {} */\n", lines[0]);
    }
    let mut out = format!("{indent}/**\n");
    for line in lines {
        if line.is_empty() {
            out.push_str(&format!("{indent} *\n"));
        } else {
            out.push_str(&format!("{indent} * {line}\n"));
        }
    }
    out.push_str(&format!("{indent} */\n"));
    out
}

const ANNOTATIONS: [&str; 12] = [
    "description",
    "title",
    "default",
    "format",
    "minimum",
    "maximum",
    "pattern",
    "minLength",
    "maxLength",
    "examples",
    "deprecated",
    "readOnly",
];
const STRUCTURE: [&str; 10] = [
    "$ref",
    "type",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "properties",
    "required",
    "additionalProperties",
    "items",
];

fn check_known(schema: &Map<String, Value>) {
    for key in schema.keys() {
        assert!(
            ANNOTATIONS.contains(&key.as_str()) || STRUCTURE.contains(&key.as_str()),
            "the TypeScript generator does not know the JSON Schema keyword `{key}` (in {}); \
             teach it in tests/tests/client_schema/typescript.rs",
            Value::Object(schema.clone())
        );
    }
}

/// The TypeScript type of a schema.
fn type_of(schema: &Value, indent: &str) -> String {
    let object = match schema {
        Value::Bool(true) => return "unknown".into(),
        Value::Bool(false) => return "never".into(),
        Value::Object(object) => object,
        other => panic!("not a JSON Schema: {other}"),
    };
    check_known(object);
    if let Some(Value::String(reference)) = object.get("$ref") {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some(constant) = object.get("const") {
        return literal(constant);
    }
    if let Some(Value::Array(values)) = object.get("enum") {
        return values.iter().map(literal).collect::<Vec<_>>().join(" | ");
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(members)) = object.get(key) {
            return union(members.iter().map(|member| type_of(member, indent)));
        }
    }
    match object.get("type") {
        Some(Value::String(kind)) => simple_type(kind, object, indent),
        Some(Value::Array(kinds)) => union(kinds.iter().map(|kind| match kind {
            Value::String(kind) => simple_type(kind, object, indent),
            other => panic!("not a JSON type name: {other}"),
        })),
        None if object.keys().all(|key| ANNOTATIONS.contains(&key.as_str())) => "unknown".into(),
        _ => panic!(
            "the TypeScript generator cannot type this schema: {}",
            Value::Object(object.clone())
        ),
    }
}

fn union(members: impl Iterator<Item = String>) -> String {
    let mut unique: Vec<String> = Vec::new();
    for member in members {
        if !unique.contains(&member) {
            unique.push(member);
        }
    }
    unique.join(" | ")
}

fn simple_type(kind: &str, object: &Map<String, Value>, indent: &str) -> String {
    match kind {
        "string" => "string".into(),
        "integer" | "number" => "number".into(),
        "boolean" => "boolean".into(),
        "null" => "null".into(),
        "array" => {
            let item = object
                .get("items")
                .map_or_else(|| "unknown".to_owned(), |items| type_of(items, indent));
            if item.chars().all(|c| c.is_alphanumeric() || c == '_') {
                format!("{item}[]")
            } else {
                format!("Array<{item}>")
            }
        }
        "object" => {
            if object.get("properties").is_some() {
                object_literal(&Value::Object(object.clone()), indent)
            } else {
                match object.get("additionalProperties") {
                    Some(Value::Object(values)) if !values.is_empty() => format!(
                        "{{ [key: string]: {} }}",
                        type_of(&Value::Object(values.clone()), indent)
                    ),
                    _ => "{ [key: string]: unknown }".into(),
                }
            }
        }
        other => panic!("unknown JSON type `{other}`"),
    }
}

fn object_literal(schema: &Value, indent: &str) -> String {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let inner = format!("{indent}  ");
    let mut out = String::from("{\n");
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in sorted_entries(properties) {
            out.push_str(&doc_comment(description(property), &inner));
            let optional = if required.contains(&name.as_str()) {
                ""
            } else {
                "?"
            };
            out.push_str(&format!(
                "{inner}{}{optional}: {};\n",
                property_name(name),
                type_of(property, &inner)
            ));
        }
    }
    out.push_str(indent);
    out.push('}');
    out
}

fn property_name(name: &str) -> String {
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        name.to_owned()
    } else {
        Value::String(name.to_owned()).to_string()
    }
}

fn literal(value: &Value) -> String {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => value.to_string(),
        other => panic!("no TypeScript literal for {other}"),
    }
}

/// `Operations`: for each route (`"GET /api/v1/plans/{plan}"`), its request body, the status
/// and body of its successful answer, and the error codes it can give, for typed fetch helpers.
fn operations_map(operations: &[Operation]) -> String {
    let mut out = String::from(
        "\n/**\n * Every operation of the API by method and route template (as in openapi.json): its\n * request body, the status and body of its successful answer, and the error codes it can\n * answer (`ErrorBody.error.code`). Binary bodies are Automerge change bytes.\n */\nexport interface Operations {\n",
    );
    for operation in operations {
        let request = match operation.request {
            Request::None => "undefined".to_owned(),
            Request::Json(name) => name.to_owned(),
            Request::OptionalJson(name) => format!("{name} | undefined"),
            Request::Changes => "Uint8Array".to_owned(),
        };
        let (status, response) = match operation.success {
            Success::Json(status, name) => (status, name.to_owned()),
            Success::List(name) => (200, format!("{name}[]")),
            Success::NoContent => (204, "undefined".to_owned()),
            Success::Changes | Success::Export => (200, "Uint8Array".to_owned()),
            Success::Metrics => (200, "string".to_owned()),
            Success::Upgrade => (101, "never".to_owned()),
            Success::Redirect => (302, "undefined".to_owned()),
        };
        let errors = operation
            .error_codes()
            .into_iter()
            .map(|code| format!("\"{}\"", code_name(code)))
            .collect::<Vec<_>>()
            .join(" | ");
        let errors = if errors.is_empty() {
            "never".to_owned()
        } else {
            errors
        };
        out.push_str(&doc_comment(Some(&format!("{}.", operation.summary)), "  "));
        out.push_str(&format!(
            "  \"{}\": {{\n    request: {request};\n    status: {status};\n    response: {response};\n    errors: {errors};\n  }};\n",
            operation.key()
        ));
    }
    out.push_str("}\n");
    out
}
