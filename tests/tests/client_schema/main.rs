//! `client-schema/` is generated from `cairn-shared` and checked in; these tests are its
//! generator and its drift check (CI runs `cargo test --workspace`, so any difference between
//! `shared` and the checked-in files fails CI), and they prove the files right:
//!
//! - the checked-in files are exactly what `shared` renders now; with `UPDATE_CLIENT_SCHEMA=1`
//!   the test writes them instead;
//! - `plan.schema.json` is a valid JSON Schema 2020-12, the examples fit it, and documents that
//!   do not fit the schema are refused by it as by the Rust reader;
//! - `openapi.json` is a valid OpenAPI 3.1 document (the official schema, with every Schema
//!   Object checked against the OpenAPI dialect) whose references all resolve;
//! - it lists every route the server registers, and the real server's answers (successes and
//!   errors, route by route) fit it.
//!
//! Regenerate: `UPDATE_CLIENT_SCHEMA=1 cargo test -p cairn-tests --test client_schema`.
// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod examples;
mod openapi;
mod render;
mod typescript;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jsonschema::{Registry, Validator};
use serde_json::{Value, json};

/// Where the generated files live.
fn client_schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-schema")
}

const REGENERATE: &str = "UPDATE_CLIENT_SCHEMA=1 cargo test -p cairn-tests --test client_schema";

/// Files in `client-schema/` that are written by hand, not generated.
const HAND_WRITTEN: [&str; 1] = ["README.md"];

fn files_under(dir: &Path, base: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, base, found);
        } else if let Ok(relative) = path.strip_prefix(base) {
            found.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn diff_hint(checked_in: &str, generated: &str) -> String {
    let diff = similar::TextDiff::from_lines(checked_in, generated);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header("checked in", "generated from shared")
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() > 80 {
        format!(
            "{}\n… ({} more lines of diff)",
            lines[..80].join("\n"),
            lines.len() - 80
        )
    } else {
        text
    }
}

#[test]
fn client_schema_is_what_shared_generates() {
    let dir = client_schema_dir();
    let generated = render::all_files();
    let update = std::env::var("UPDATE_CLIENT_SCHEMA").is_ok_and(|value| value == "1");

    let mut on_disk = Vec::new();
    files_under(&dir, &dir, &mut on_disk);
    let stale: Vec<&String> = on_disk
        .iter()
        .filter(|file| {
            !generated.contains_key(file.as_str()) && !HAND_WRITTEN.contains(&file.as_str())
        })
        .collect();

    if update {
        for (file, content) in &generated {
            let path = dir.join(file);
            if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
                continue;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&path, content).unwrap();
            eprintln!("wrote client-schema/{file}");
        }
        for file in stale {
            std::fs::remove_file(dir.join(file)).unwrap();
            eprintln!("removed client-schema/{file}, which is no longer generated");
        }
        return;
    }

    let mut problems = Vec::new();
    for (file, content) in &generated {
        match std::fs::read_to_string(dir.join(file)) {
            Ok(checked_in) if checked_in == *content => {}
            Ok(checked_in) => problems.push(format!(
                "client-schema/{file} differs from what `shared` generates:\n{}",
                diff_hint(&checked_in, content)
            )),
            Err(_) => problems.push(format!("client-schema/{file} is missing")),
        }
    }
    for file in stale {
        problems.push(format!(
            "client-schema/{file} is not generated any more (and not listed as hand-written)"
        ));
    }
    assert!(
        problems.is_empty(),
        "client-schema/ is out of date with `shared`. Regenerate it with\n    {REGENERATE}\n\
         then review and commit the result.\n\n{}",
        problems.join("\n\n")
    );
}

/// The plan schema's validator, formats asserted (`date`, `date-time`) as ajv-formats does.
fn plan_validator(schema: &Value) -> Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|err| panic!("plan.schema.json does not compile: {err}"))
}

fn errors_of(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[test]
fn plan_schema_is_json_schema_2020_12_and_the_examples_fit_it() {
    let schema = render::plan_schema();
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "plan.schema.json declares draft 2020-12"
    );
    if let Err(error) = jsonschema::meta::validate(&schema) {
        panic!("plan.schema.json is not a valid JSON Schema 2020-12: {error}");
    }
    let validator = plan_validator(&schema);

    for (name, document) in [
        (render::EXAMPLE_TOGETHER, examples::written_together()),
        (render::EXAMPLE_SKELETON, examples::skeleton()),
    ] {
        let errors = errors_of(&validator, &document);
        assert!(
            errors.is_empty(),
            "{name} does not fit plan.schema.json: {errors:#?}"
        );
        // The Rust reader agrees.
        if let Err(issue) = cairn_shared::plan::upgrade(document.clone()) {
            panic!("{name} does not read as a v1 plan: {issue}");
        }
    }

    // What does not fit v1 is refused by the schema, as by the reader.
    let plan = examples::written_together();
    let mut risky = plan.clone();
    risky["riskScore"] = json!(7);
    let mut unknown_status = plan.clone();
    unknown_status["goals"][0]["status"] = json!("maybe");
    let mut extra_goal_field = plan.clone();
    extra_goal_field["goals"][0]["diagnosis"] = json!("none of anyone's business");
    let mut no_goal_text = plan.clone();
    no_goal_text["goals"][0]
        .as_object_mut()
        .unwrap()
        .remove("text");
    let mut wrong_who = plan.clone();
    wrong_who["goals"][0]["steps"][0]["who"] = json!("staff");
    let mut future = plan.clone();
    future["schemaVersion"] = json!(2);
    for (what, document) in [
        ("a field outside the schema", risky),
        ("an unknown goal status", unknown_status),
        ("an unknown field in a goal", extra_goal_field),
        ("a goal without text", no_goal_text),
        ("an unknown `who`", wrong_who),
        ("another schema version", future),
    ] {
        assert!(
            !validator.is_valid(&document),
            "plan.schema.json accepts {what}"
        );
        assert!(
            cairn_shared::plan::upgrade(document).is_err(),
            "the Rust reader accepts {what}"
        );
    }
    // Dates: the schema asserts formats, and the Rust reader agrees.
    for (path, value) in [
        ("checkIns/0/date", json!("last Tuesday")),
        ("checkIns/0/date", json!("2026-02-30")),
        ("goals/0/createdAt", json!("yesterday")),
        ("goals/0/steps/0/due", json!("next week")),
    ] {
        let mut bad_date = plan.clone();
        let mut field = &mut bad_date;
        for part in path.split('/') {
            field = match part.parse::<usize>() {
                Ok(index) => &mut field[index],
                Err(_) => &mut field[part],
            };
        }
        *field = value.clone();
        assert!(
            !validator.is_valid(&bad_date),
            "plan.schema.json (formats asserted) accepts {value} at {path}"
        );
        let issue = cairn_shared::plan::upgrade(bad_date).expect_err("the Rust reader refuses it");
        let said = issue.to_string();
        assert!(said.contains("not a date"), "{said}");
        let written = value.as_str().unwrap_or_default();
        assert!(
            !said.contains(written),
            "the issue quotes the document: {said}"
        );
    }
}

/// The base URI the OpenAPI document is registered under, to resolve pointers into it.
pub const OPENAPI_URI: &str = "https://cairn.invalid/client-schema/openapi.json";

fn oas_schemas() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client_schema/oas-3.1");
    ["schema", "schema-base", "dialect", "meta"]
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
            let schema: Value = serde_json::from_str(&text).unwrap();
            let id = schema["$id"].as_str().unwrap().to_owned();
            (id, schema)
        })
        .collect()
}

/// A validator of OpenAPI 3.1 documents, Schema Objects included (`schema-base`).
fn openapi_validator() -> Validator {
    let schemas = oas_schemas();
    let registry = Registry::new()
        .extend(
            schemas
                .iter()
                .map(|(id, schema)| (id.clone(), schema.clone())),
        )
        .unwrap()
        .prepare()
        .unwrap();
    let base = schemas
        .iter()
        .find(|(id, _)| id.contains("/schema-base/"))
        .map(|(_, schema)| schema.clone())
        .unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&base)
        .unwrap_or_else(|err| panic!("the OpenAPI 3.1 schema does not compile: {err}"))
}

#[test]
fn openapi_json_is_valid_openapi_3_1_and_its_references_resolve() {
    let components = render::components();
    let document = openapi::document(&components);
    let validator = openapi_validator();
    let errors = errors_of(&validator, &document);
    assert!(
        errors.is_empty(),
        "openapi.json is not a valid OpenAPI 3.1 document: {errors:#?}"
    );

    // The validator is not vacuous: broken documents fail it.
    let mut no_version = document.clone();
    no_version["openapi"] = json!("3.0.3");
    let mut bad_parameter = document.clone();
    bad_parameter["paths"]["/api/v1/plans/{plan}"]["get"]["parameters"][0]["in"] = json!("body");
    let mut bad_schema = document.clone();
    bad_schema["components"]["schemas"]["Heads"]["type"] = json!("list");
    for (what, broken) in [
        ("an OpenAPI 3.0 version", no_version),
        ("a parameter `in: body`", bad_parameter),
        ("a Schema Object with an unknown type", bad_schema),
    ] {
        assert!(
            !validator.is_valid(&broken),
            "the OpenAPI validator accepts {what}"
        );
    }

    // Every component schema is a valid schema of the OpenAPI dialect (2020-12), and every
    // reference in it, and in every operation, resolves.
    let registry = Registry::new()
        .add(OPENAPI_URI, document.clone())
        .unwrap()
        .prepare()
        .unwrap();
    for name in components.keys() {
        if let Err(error) = jsonschema::meta::validate(&components[name]) {
            panic!("component schema {name} is not valid JSON Schema 2020-12: {error}");
        }
        let reference = json!({ "$ref": format!("{OPENAPI_URI}#/components/schemas/{name}") });
        if let Err(err) = jsonschema::options()
            .with_registry(&registry)
            .build(&reference)
        {
            panic!("component schema {name} has a reference that does not resolve: {err}");
        }
    }
    for operation in openapi::operations() {
        let item = &document["paths"][operation.path][operation.method];
        for status in item["responses"].as_object().unwrap().keys() {
            let Some((pointer, response)) =
                openapi::documented_response(&document, &operation, status)
            else {
                panic!(
                    "{} {status}: the response reference does not resolve",
                    operation.key()
                );
            };
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                if content.get("schema").is_none() {
                    continue;
                }
                let uri = conformance::schema_uri(&pointer, media);
                if let Err(err) = jsonschema::options()
                    .with_registry(&registry)
                    .build(&json!({ "$ref": uri }))
                {
                    panic!(
                        "{} {status} {media}: a reference does not resolve: {err}",
                        operation.key()
                    );
                }
            }
        }
    }

    // The plan document in openapi.json is the one in plan.schema.json.
    let plan_schema = render::plan_schema();
    let as_component = |schema: &Value| {
        serde_json::from_str::<Value>(
            &schema
                .to_string()
                .replace("#/$defs/", "#/components/schemas/"),
        )
        .unwrap()
    };
    let mut root = as_component(&plan_schema);
    let definitions = root.as_object_mut().unwrap().remove("$defs").unwrap();
    for key in ["$schema", "title"] {
        root.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(components["PlanDocument"], root, "PlanDocument differs");
    for (name, schema) in definitions.as_object().unwrap() {
        assert_eq!(&components[name], schema, "{name} differs");
    }
}

/// Route modules registered inside `web::scope("/api/v1")` in `server/src/routes/mod.rs`.
const SCOPED: [&str; 11] = [
    "auth.rs",
    "me.rs",
    "plans.rs",
    "admin.rs",
    "credentials.rs",
    "leaving.rs",
    "passkeys.rs",
    "second_factor.rs",
    "console.rs",
    "oidc.rs",
    "versions.rs",
];
/// Route modules registered at the root.
const ROOT: [&str; 4] = ["mod.rs", "health.rs", "sync.rs", "extract.rs"];
/// Route modules that serve the reference PWA's files (`/`, `/sw.js`, `/assets/…`): the app,
/// not the REST API, so openapi.json does not describe them (`tests/tests/api/web_app.rs` does).
const WEB_APP: [&str; 1] = ["web_app.rs"];

/// Every `METHOD /path` the server registers, read off `server/src/routes/*.rs`.
fn registered_routes() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src/routes");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".rs") {
            continue;
        }
        if WEB_APP.contains(&file.as_str()) {
            continue;
        }
        let prefix = if SCOPED.contains(&file.as_str()) {
            "/api/v1"
        } else if ROOT.contains(&file.as_str()) {
            ""
        } else {
            panic!(
                "server/src/routes/{file} is new: say in tests/tests/client_schema/main.rs \
                 whether its routes are under /api/v1 (SCOPED) or not (ROOT), and add them to \
                 client-schema's route table (openapi.rs)"
            )
        };
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(
            prefix.is_empty() || !text.contains("web::scope("),
            "{file} opens its own scope: teach the route scan about it"
        );
        for chunk in text.split("web::resource(\"").skip(1) {
            let path = &chunk[..chunk.find('"').unwrap()];
            let until_next = chunk.split("web::resource(").next().unwrap_or(chunk);
            let until_next = until_next.split("web::scope(").next().unwrap_or(until_next);
            for method in ["get", "post", "put", "patch", "delete", "head"] {
                if until_next.contains(&format!("web::{method}()")) {
                    routes.insert(format!("{} {prefix}{path}", method.to_uppercase()));
                }
            }
        }
    }
    routes
}

#[test]
fn openapi_lists_exactly_the_routes_the_server_registers() {
    let registered = registered_routes();
    assert!(
        registered.len() > 20,
        "the route scan found too little: {registered:?}"
    );
    let described: BTreeSet<String> = openapi::operations().iter().map(|op| op.key()).collect();
    let missing: Vec<_> = registered.difference(&described).collect();
    let extra: Vec<_> = described.difference(&registered).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "client-schema's route table (tests/tests/client_schema/openapi.rs) and \
         server/src/routes differ.\nregistered but not described: {missing:#?}\n\
         described but not registered: {extra:#?}\nThen: {REGENERATE}"
    );
    let ids: BTreeMap<&str, usize> =
        openapi::operations()
            .iter()
            .fold(BTreeMap::new(), |mut ids, op| {
                *ids.entry(op.id).or_default() += 1;
                ids
            });
    assert!(
        ids.values().all(|count| *count == 1),
        "operationIds repeat: {ids:?}"
    );
}
