//! Renders every generated file of `client-schema/` from `cairn-shared`, in memory: the plan
//! document's JSON Schema, the OpenAPI description, the TypeScript types and the examples.

use std::collections::BTreeMap;

use cairn_shared::ErrorBody;
use cairn_shared::api::{
    AccessLogEntry, Account, ActivityEntry, AuditPage, AuthTokens, Counts, CreateAccountRequest,
    CreateEnrollmentCodeRequest, CreatePlanRequest, DeviceSession, EnrollmentCode, Heads, Health,
    HistoryEntry, Invitation, LoginRequest, PlanDetail, PlanMember, PlanSummary, RefreshRequest,
    RegisterRequest, RenameSessionRequest,
};
use cairn_shared::api::{AdminHealth, EnrollmentCodeInfo};
use cairn_shared::api::{
    ChangePasswordRequest, RecoveryCodeStatus, RecoveryCodes, RedeemCodeRequest, ResetCode,
};
use cairn_shared::api::{DeleteAccountRequest, LeavingPreview};
use cairn_shared::api::{
    LoginResponse, SecondFactorCode, SecondFactorSignIn, SecondFactorStatus, TotpEnrolment,
};
use cairn_shared::api::{OidcExchangeRequest, OidcSignInOption};
use cairn_shared::api::{
    PasskeyChallenge, PasskeyInfo, PasskeySignInFinish, PasskeySignInStart, RegisterPasskeyRequest,
};
use cairn_shared::plan::PlanDocument;
use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::{Map, Value};

use crate::{examples, openapi, typescript};

/// The plan document's JSON Schema.
pub const PLAN_SCHEMA: &str = "plan.schema.json";
/// The REST API's OpenAPI 3.1 description.
pub const OPENAPI: &str = "openapi.json";
/// TypeScript types of the plan document and of every REST request and response.
pub const TYPESCRIPT: &str = "cairn.ts";
/// A realistic plan, written together by a person and their supporter.
pub const EXAMPLE_TOGETHER: &str = "examples/plan-written-together.json";
/// The skeleton every new plan starts from.
pub const EXAMPLE_SKELETON: &str = "examples/skeleton.json";

/// Every generated file, by path relative to `client-schema/`, with its exact content.
pub fn all_files() -> BTreeMap<&'static str, String> {
    let plan_schema = plan_schema();
    let components = components();
    let openapi = openapi::document(&components);
    let typescript = typescript::render(&plan_schema, &components, &openapi::operations());
    BTreeMap::from([
        (PLAN_SCHEMA, json_file(&plan_schema)),
        (OPENAPI, json_file(&openapi)),
        (TYPESCRIPT, typescript),
        (EXAMPLE_TOGETHER, json_file(&examples::written_together())),
        (EXAMPLE_SKELETON, json_file(&examples::skeleton())),
    ])
}

/// How Cairn's schemas are generated: JSON Schema 2020-12 (also OpenAPI 3.1's dialect), with
/// unit enums as plain `enum`s and without Rust integer widths as formats.
fn settings(definitions_path: &'static str) -> SchemaSettings {
    SchemaSettings::draft2020_12()
        .with(|settings| settings.definitions_path = definitions_path.into())
        .with_transform(RecursiveTransform(enum_from_constants))
        .with_transform(RecursiveTransform(drop_integer_formats))
        .with_transform(RecursiveTransform(plain_doc_links))
}

/// The JSON Schema of the plan document (schema v1), as documents are read: what fits.
pub fn plan_schema() -> Value {
    let schema = settings("/$defs")
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<PlanDocument>();
    schema.to_value()
}

/// The component schemas of the OpenAPI description, by name: request bodies as the server
/// reads them (fields with defaults may be left out), responses as it writes them.
pub fn components() -> Map<String, Value> {
    let mut requests = settings("/components/schemas")
        .for_deserialize()
        .into_generator();
    requests.subschema_for::<RegisterRequest>();
    requests.subschema_for::<LoginRequest>();
    requests.subschema_for::<RefreshRequest>();
    requests.subschema_for::<CreatePlanRequest>();
    requests.subschema_for::<RenameSessionRequest>();
    requests.subschema_for::<CreateAccountRequest>();
    requests.subschema_for::<CreateEnrollmentCodeRequest>();
    requests.subschema_for::<ChangePasswordRequest>();
    requests.subschema_for::<cairn_shared::api::NewRecoveryCodesRequest>();
    requests.subschema_for::<RedeemCodeRequest>();
    requests.subschema_for::<DeleteAccountRequest>();
    requests.subschema_for::<RegisterPasskeyRequest>();
    requests.subschema_for::<PasskeySignInStart>();
    requests.subschema_for::<PasskeySignInFinish>();
    requests.subschema_for::<SecondFactorCode>();
    requests.subschema_for::<SecondFactorSignIn>();
    requests.subschema_for::<OidcExchangeRequest>();
    requests.subschema_for::<cairn_shared::api::NameVersionRequest>();
    // The plan document is only ever read (over REST it is answered as it is stored), so it has
    // the one contract, the same as in plan.schema.json.
    requests.subschema_for::<PlanDocument>();

    let mut responses = settings("/components/schemas")
        .for_serialize()
        .into_generator();
    responses.subschema_for::<ErrorBody>();
    responses.subschema_for::<AuthTokens>();
    responses.subschema_for::<Account>();
    responses.subschema_for::<DeviceSession>();
    responses.subschema_for::<PlanSummary>();
    responses.subschema_for::<PlanDetail>();
    responses.subschema_for::<PlanMember>();
    responses.subschema_for::<Invitation>();
    responses.subschema_for::<HistoryEntry>();
    responses.subschema_for::<cairn_shared::api::PlanConflict>();
    responses.subschema_for::<cairn_shared::api::HistorySession>();
    responses.subschema_for::<cairn_shared::api::PlanVersion>();
    responses.subschema_for::<cairn_shared::api::PlanVersionView>();
    responses.subschema_for::<AccessLogEntry>();
    responses.subschema_for::<Heads>();
    responses.subschema_for::<EnrollmentCode>();
    responses.subschema_for::<Counts>();
    responses.subschema_for::<Health>();
    responses.subschema_for::<ActivityEntry>();
    responses.subschema_for::<AuditPage>();
    responses.subschema_for::<RecoveryCodes>();
    responses.subschema_for::<RecoveryCodeStatus>();
    responses.subschema_for::<ResetCode>();
    responses.subschema_for::<LeavingPreview>();
    responses.subschema_for::<PasskeyChallenge>();
    responses.subschema_for::<PasskeyInfo>();
    responses.subschema_for::<LoginResponse>();
    responses.subschema_for::<SecondFactorStatus>();
    responses.subschema_for::<TotpEnrolment>();
    responses.subschema_for::<EnrollmentCodeInfo>();
    responses.subschema_for::<AdminHealth>();
    responses.subschema_for::<OidcSignInOption>();

    let mut all = requests.take_definitions(true);
    for (name, schema) in responses.take_definitions(true) {
        match all.get(&name) {
            None => {
                all.insert(name, schema);
            }
            Some(read) if *read == schema => {}
            Some(read) => panic!(
                "`{name}` is both read and written by the API, with different schemas; \
                 give the two directions their own types.\nread: {read}\nwritten: {schema}"
            ),
        }
    }
    all
}

/// A unit enum whose variants have docs comes out of schemars as a `oneOf` of documented
/// constants. Clients and tools (TypeScript, form builders, ajv) read a plain `enum` best, so it
/// becomes one, each value's doc kept in the description as a list.
fn enum_from_constants(schema: &mut Schema) {
    let Some(Value::Array(variants)) = schema.get("oneOf") else {
        return;
    };
    let mut values = Vec::new();
    let mut lines = Vec::new();
    for variant in variants {
        let Some(variant) = variant.as_object() else {
            return;
        };
        let Some(Value::String(value)) = variant.get("const") else {
            return;
        };
        if variant
            .keys()
            .any(|key| !matches!(key.as_str(), "const" | "type" | "description"))
            || variant.get("type").is_some_and(|t| t != "string")
        {
            return;
        }
        if let Some(Value::String(doc)) = variant.get("description") {
            lines.push(format!("- `{value}`: {doc}"));
        }
        values.push(Value::String(value.clone()));
    }
    schema.remove("oneOf");
    schema.insert("type".into(), "string".into());
    schema.insert("enum".into(), Value::Array(values));
    if !lines.is_empty() {
        let intro = match schema.get("description") {
            Some(Value::String(doc)) => format!("{doc}\n\n"),
            _ => String::new(),
        };
        schema.insert(
            "description".into(),
            format!("{intro}{}", lines.join("\n")).into(),
        );
    }
}

/// `int64`, `uint32`…: Rust's integer widths, not JSON Schema formats (ajv, for one, rejects
/// them as unknown formats). Ranges stay as `minimum`.
fn drop_integer_formats(schema: &mut Schema) {
    let integer = match schema.get("type") {
        Some(Value::String(kind)) => kind == "integer",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "integer"),
        _ => false,
    };
    if integer {
        schema.remove("format");
    }
}

/// Rustdoc links (``[`PlanId::document_id`]``) mean nothing to clients: keep the code span.
fn plain_doc_links(schema: &mut Schema) {
    if let Some(Value::String(description)) = schema.get("description") {
        let plain = without_doc_links(description);
        if plain != *description {
            schema.insert("description".into(), plain.into());
        }
    }
}

fn without_doc_links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        let Some(length) = rest[start + 2..].find("`]") else {
            break;
        };
        let end = start + 2 + length;
        out.push_str(&rest[..start]);
        out.push('`');
        out.push_str(&rest[start + 2..end]);
        out.push('`');
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// What every error code means, from its doc comment in `shared/src/error.rs`.
pub fn error_code_docs() -> BTreeMap<String, String> {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<cairn_shared::ErrorCode>();
    let mut docs = BTreeMap::new();
    if let Some(Value::Array(variants)) = schema.get("oneOf") {
        for variant in variants {
            if let (Some(Value::String(code)), Some(Value::String(doc))) =
                (variant.get("const"), variant.get("description"))
            {
                docs.insert(code.clone(), doc.clone());
            }
        }
    }
    docs
}

/// JSON with its object keys sorted at every level, pretty-printed, ending in a newline: the
/// same bytes whether or not serde_json keeps insertion order in this build.
pub fn json_file(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), sorted(&map[key])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}
