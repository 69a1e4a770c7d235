//! `openapi.json` describes the real server: a walk through every route (as a person, their
//! supporter, an admin and a few mistakes would go) against a running Cairn, each answer checked
//! against the operation's documented response for its status: the status is documented, the
//! media type is one of the documented ones, required headers are there, and a JSON body fits
//! the documented schema (error bodies included, whose schema lists the codes the route may
//! give). At the end every operation must have answered its documented success at least once.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use cairn_tests::TestApp;
use jsonschema::Registry;
use reqwest::Method;
use serde_json::{Value, json};

use crate::OPENAPI_URI;
use crate::openapi::{self, Operation};

/// The URI of the schema a documented response (at `pointer` in openapi.json) gives `media`.
pub fn schema_uri(response_pointer: &str, media: &str) -> String {
    let fragment = format!(
        "{response_pointer}/content/{}/schema",
        openapi::pointer_segment(media)
    );
    // `{` and `}` (of route templates) are not allowed in a URI fragment as they are.
    let fragment = fragment.replace('{', "%7B").replace('}', "%7D");
    format!("{OPENAPI_URI}#{fragment}")
}

/// A request to make: `METHOD template`, its path parameters, query, token and body.
struct Call {
    method: &'static str,
    template: &'static str,
    params: Vec<(&'static str, String)>,
    query: String,
    token: Option<String>,
    body: Body,
}

/// A request body.
enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

fn call(method: &'static str, template: &'static str) -> Call {
    Call {
        method,
        template,
        params: Vec::new(),
        query: String::new(),
        token: None,
        body: Body::None,
    }
}

fn get(template: &'static str) -> Call {
    call("GET", template)
}

fn post(template: &'static str) -> Call {
    call("POST", template)
}

fn delete(template: &'static str) -> Call {
    call("DELETE", template)
}

fn patch(template: &'static str) -> Call {
    call("PATCH", template)
}

impl Call {
    /// Fill the path parameter `{name}`.
    fn at(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, value.to_owned()));
        self
    }
    /// The plan in `{plan}`.
    fn plan(self, plan: &str) -> Self {
        self.at("plan", plan)
    }
    fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }
    fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }
    fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }
    fn raw(mut self, content_type: &'static str, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Raw(content_type, bytes.into());
        self
    }
}

/// An answer read whole.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
    json: Value,
}

impl Reply {
    /// A string field of the JSON body.
    fn text(&self, field: &str) -> String {
        self.json
            .pointer(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no `{field}` in {}", self.json))
            .to_owned()
    }
}

struct Walk {
    app: TestApp,
    client: reqwest::Client,
    document: Value,
    registry: Registry<'static>,
    operations: Vec<Operation>,
    answered: BTreeSet<(String, u16)>,
    failures: Vec<String>,
}

impl Walk {
    /// Make the call, panic unless it answers `expected`, and check the answer against
    /// openapi.json (mismatches are collected in `failures`).
    async fn expect(&mut self, expected: u16, call: Call) -> Reply {
        let mut path = call.template.to_owned();
        for (name, value) in &call.params {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let url = format!("{}{path}{}", self.app.address, call.query);
        let method = Method::from_bytes(call.method.as_bytes()).unwrap();
        let mut request = self.client.request(method, &url);
        if let Some(token) = &call.token {
            request = request.bearer_auth(token);
        }
        request = match call.body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Raw(content_type, bytes) => {
                request.header("content-type", content_type).body(bytes)
            }
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default().to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let reply = Reply {
            status,
            headers,
            bytes,
            json,
        };
        let key = format!("{} {}", call.method, call.template);
        assert_eq!(
            reply.status,
            expected,
            "{key} ({path}{}) answered {} instead of {expected}: {}",
            call.query,
            reply.status,
            String::from_utf8_lossy(&reply.bytes)
        );
        self.check(&key, &reply);
        reply
    }

    fn check(&mut self, key: &str, reply: &Reply) {
        let Some(operation) = self.operations.iter().find(|op| op.key() == key) else {
            self.failures.push(format!("{key} is not in openapi.json"));
            return;
        };
        let status = reply.status.to_string();
        self.answered.insert((key.to_owned(), reply.status));
        let Some((pointer, documented)) =
            openapi::documented_response(&self.document, operation, &status)
        else {
            self.failures.push(format!(
                "{key} answered {status}, which openapi.json does not list for it: {}",
                String::from_utf8_lossy(&reply.bytes)
            ));
            return;
        };
        for (name, header) in documented["headers"].as_object().into_iter().flatten() {
            if header["required"] == true && !reply.headers.contains_key(name.as_str()) {
                self.failures.push(format!(
                    "{key} {status}: the required header {name} is missing"
                ));
            }
        }
        let Some(content) = documented["content"].as_object() else {
            if !reply.bytes.is_empty() {
                self.failures.push(format!(
                    "{key} {status}: openapi.json says no content, the server sent {} bytes",
                    reply.bytes.len()
                ));
            }
            return;
        };
        let media = reply
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .unwrap_or_default()
            .trim()
            .to_owned();
        if !content.contains_key(&media) {
            self.failures.push(format!(
                "{key} {status}: content type `{media}` is not among {:?}",
                content.keys().collect::<Vec<_>>()
            ));
            return;
        }
        if content[&media].get("schema").is_none() || !media.ends_with("json") {
            return;
        }
        let uri = schema_uri(&pointer, &media);
        let validator = jsonschema::options()
            .with_registry(&self.registry)
            .should_validate_formats(true)
            .build(&json!({ "$ref": uri }))
            .unwrap_or_else(|err| panic!("{uri} does not compile: {err}"));
        for error in validator.iter_errors(&reply.json) {
            self.failures.push(format!(
                "{key} {status}: the body does not fit openapi.json at {}: {error}\nbody: {}",
                error.instance_path(),
                reply.json
            ));
        }
    }
}

/// Automerge changes adding a strength to the plan whose changes are `plan`, by `actor`:
/// what a client uploads over HTTP sync.
fn strength_change(plan: &[u8], actor: ActorId, id: &str) -> Vec<u8> {
    let mut doc = AutoCommit::load(plan).unwrap().with_actor(actor);
    let before = doc.get_heads();
    cairn_shared::plan::write::add_strength(
        &mut doc,
        &cairn_shared::plan::Strength {
            id: id.into(),
            text: "Good at asking for help".into(),
            added_by: None,
        },
    )
    .unwrap();
    doc.commit();
    doc.get_changes(&before)
        .iter()
        .flat_map(|change| change.raw_bytes().to_vec())
        .collect()
}

fn account(username: &str) -> Value {
    json!({
        "username": username,
        "displayName": cairn_tests::display_name(username),
        "password": cairn_tests::PASSWORD,
        "deviceName": "Maria's phone",
    })
}

fn login(username: &str, password: &str) -> Value {
    json!({ "username": username, "password": password, "deviceName": "laptop" })
}

const REGISTER: &str = "/api/v1/auth/register";
const LOGIN: &str = "/api/v1/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const ME: &str = "/api/v1/me";
const SESSION: &str = "/api/v1/me/sessions/{id}";
const PLANS: &str = "/api/v1/plans";
const PLAN: &str = "/api/v1/plans/{plan}";
const INVITATIONS: &str = "/api/v1/plans/{plan}/invitations";
const ACCEPT: &str = "/api/v1/invitations/{code}/accept";
const MEMBER: &str = "/api/v1/plans/{plan}/members/{user}";
const ACCESS_LOG: &str = "/api/v1/plans/{plan}/access-log";
const EXPORT: &str = "/api/v1/plans/{plan}/export";
const CHANGES: &str = "/api/v1/plans/{plan}/changes";
const ACCOUNTS: &str = "/api/v1/admin/accounts";
const DISABLE: &str = "/api/v1/admin/accounts/{id}/disable";
const ENROLLMENT_CODES: &str = "/api/v1/admin/enrollment-codes";
const CHANGE_PASSWORD: &str = "/api/v1/me/password";
const RECOVERY_CODES: &str = "/api/v1/me/recovery-codes";
const RECOVER: &str = "/api/v1/auth/recover";
const RESET: &str = "/api/v1/auth/reset";
const RESET_CODE: &str = "/api/v1/admin/accounts/{id}/reset-code";
const NEW_PASSWORD: &str = "purple kettle on the windowsill";
const BINARY: &str = "application/octet-stream";
/// A well-formed id that names nothing.
const NOBODY: &str = "00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn the_real_server_answers_as_openapi_json_says() {
    let components = crate::render::components();
    let document = openapi::document(&components);
    let registry = Registry::new()
        .add(OPENAPI_URI, document.clone())
        .unwrap()
        .prepare()
        .unwrap();
    // Staff sign-in goes through a real OpenID provider (tests/oidc).
    let (app, provider) = cairn_tests::oidc::cairn_and_provider_with(|settings| {
        settings.login_attempts_per_account_and_address_per_hour = 3;
    })
    .await;
    let mut walk = Walk {
        app,
        // Redirects are answers to check, not to follow.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        document,
        registry,
        operations: openapi::operations(),
        answered: BTreeSet::new(),
        failures: Vec::new(),
    };
    let w = &mut walk;

    // Staff sign-in: the button, a start, a callback that does not check out (it still sends
    // the browser back to the PWA), and a handoff traded once.
    w.expect(200, get("/api/v1/auth/oidc")).await;
    w.expect(302, get("/api/v1/auth/oidc/start")).await;
    let mut bad = get("/api/v1/auth/oidc/callback");
    bad.query = "?code=x&state=unknown".into();
    w.expect(302, bad).await;
    provider.next_login("bob", &["pwd"]).await;
    let landing = cairn_tests::oidc::browser_sign_in(&w.app).await;
    let handoff = json!({ "code": landing.fragment.trim_start_matches("oidc=") });
    const EXCHANGE: &str = "/api/v1/auth/oidc/exchange";
    w.expect(200, post(EXCHANGE).json(handoff.clone())).await;
    w.expect(400, post(EXCHANGE).json(handoff)).await;

    // Operations.
    w.expect(200, get("/healthz")).await;
    w.expect(200, get("/readyz")).await;
    w.expect(200, get("/metrics")).await;

    // Accounts and device sessions.
    let maria = w.expect(201, post(REGISTER).json(account("maria"))).await;
    let maria_token = maria.text("/accessToken");
    let maria_id = maria.text("/account/id");
    w.expect(409, post(REGISTER).json(account("maria"))).await;
    w.expect(
        400,
        post(REGISTER).raw("application/json", "{\"username\":"),
    )
    .await;
    let short = json!({ "username": "x", "displayName": "X", "password": "short" });
    w.expect(422, post(REGISTER).json(short)).await;
    let huge = json!({ "username": "huge", "displayName": "a".repeat(70_000), "password": "pw" });
    w.expect(413, post(REGISTER).json(huge)).await;
    let sam = w.expect(201, post(REGISTER).json(account("sam"))).await;
    let sam_token = sam.text("/accessToken");
    let sam_id = sam.text("/account/id");

    let laptop = w
        .expect(200, post(LOGIN).json(login("maria", cairn_tests::PASSWORD)))
        .await;
    w.expect(201, post(REGISTER).json(account("rita"))).await;
    for _ in 0..3 {
        w.expect(401, post(LOGIN).json(login("rita", "not her password")))
            .await;
    }
    w.expect(429, post(LOGIN).json(login("rita", "not her password")))
        .await;

    let used = json!({ "refreshToken": laptop.text("/refreshToken") });
    w.expect(200, post(REFRESH).json(used.clone())).await;
    w.expect(401, post(REFRESH).json(used)).await;
    w.expect(
        401,
        post(REFRESH).json(json!({ "refreshToken": "made up" })),
    )
    .await;

    w.expect(200, get(ME).token(&maria_token)).await;
    w.expect(401, get(ME)).await;
    w.expect(401, get(ME).token("not.a.token")).await;
    w.expect(200, get("/api/v1/me/activity").token(&maria_token))
        .await;
    w.expect(200, get("/api/v1/me/sessions").token(&maria_token))
        .await;
    let other = w
        .expect(200, post(LOGIN).json(login("sam", cairn_tests::PASSWORD)))
        .await;
    let other_session = other.text("/sessionId");
    let renamed = json!({ "deviceName": "Sam's tablet" });
    let rename = patch(SESSION).at("id", &other_session);
    w.expect(200, rename.token(&sam_token).json(renamed.clone()))
        .await;
    let rename = patch(SESSION).at("id", &other_session);
    w.expect(404, rename.token(&maria_token).json(renamed))
        .await;
    let rename = patch(SESSION).at("id", &other_session);
    let blank = json!({ "deviceName": "  " });
    w.expect(422, rename.token(&sam_token).json(blank)).await;
    w.expect(
        204,
        delete(SESSION).at("id", &other_session).token(&sam_token),
    )
    .await;
    w.expect(404, delete(SESSION).at("id", NOBODY).token(&sam_token))
        .await;

    // Plans.
    let title = json!({ "title": "My way forward" });
    let plan = w
        .expect(201, post(PLANS).token(&maria_token).json(title))
        .await;
    let plan_id = plan.text("/id");
    let id = plan_id.as_str();
    w.expect(201, post(PLANS).token(&maria_token)).await;
    let long_title = json!({ "title": "x".repeat(300) });
    w.expect(422, post(PLANS).token(&maria_token).json(long_title))
        .await;
    w.expect(
        400,
        post(PLANS).token(&maria_token).raw("application/json", "["),
    )
    .await;
    w.expect(200, get(PLANS).token(&maria_token)).await;
    w.expect(200, get(PLAN).plan(id).token(&maria_token)).await;
    w.expect(404, get(PLAN).plan(NOBODY).token(&maria_token))
        .await;
    w.expect(404, get(PLAN).plan(id).token(&sam_token)).await;

    // Membership.
    let invitation = w
        .expect(201, post(INVITATIONS).plan(id).token(&maria_token))
        .await;
    let code = invitation.text("/code");
    w.expect(200, post(ACCEPT).at("code", &code).token(&sam_token))
        .await;
    w.expect(410, post(ACCEPT).at("code", &code).token(&sam_token))
        .await;
    w.expect(404, post(ACCEPT).at("code", "NOPE-NOPE").token(&sam_token))
        .await;
    let second = w
        .expect(201, post(INVITATIONS).plan(id).token(&maria_token))
        .await;
    let own = post(ACCEPT).at("code", &second.text("/code"));
    w.expect(409, own.token(&maria_token)).await;
    w.expect(403, post(INVITATIONS).plan(id).token(&sam_token))
        .await;
    let members = get("/api/v1/plans/{plan}/members").plan(id);
    w.expect(200, members.token(&sam_token)).await;

    // Transparency.
    let history = get("/api/v1/plans/{plan}/history").plan(id);
    w.expect(200, history.token(&sam_token)).await;
    let sessions = get("/api/v1/plans/{plan}/history/sessions").plan(id);
    w.expect(200, sessions.token(&sam_token)).await;
    let conflicts = get("/api/v1/plans/{plan}/conflicts").plan(id);
    w.expect(200, conflicts.token(&sam_token)).await;
    w.expect(200, get(ACCESS_LOG).plan(id).token(&sam_token))
        .await;
    w.expect(
        400,
        get(ACCESS_LOG).plan(id).query("?limit=0").token(&sam_token),
    )
    .await;
    for format in ["json", "markdown", "fhir"] {
        let export = get(EXPORT).plan(id).query(&format!("?format={format}"));
        w.expect(200, export.token(&maria_token)).await;
    }
    w.expect(
        403,
        get(EXPORT).plan(id).query("?format=fhir").token(&sam_token),
    )
    .await;
    w.expect(
        400,
        get(EXPORT).plan(id).query("?format=pdf").token(&sam_token),
    )
    .await;

    // Named versions.
    const VERSIONS: &str = "/api/v1/plans/{plan}/versions";
    let named = w
        .expect(
            201,
            post(VERSIONS)
                .plan(id)
                .token(&maria_token)
                .json(json!({ "name": "what we agreed" })),
        )
        .await;
    let version = named.text("/id");
    w.expect(
        422,
        post(VERSIONS)
            .plan(id)
            .token(&maria_token)
            .json(json!({ "name": "" })),
    )
    .await;
    w.expect(200, get(VERSIONS).plan(id).token(&sam_token))
        .await;
    let one = get("/api/v1/plans/{plan}/versions/{version}").plan(id);
    w.expect(200, one.at("version", &version).token(&sam_token))
        .await;
    let unknown = get("/api/v1/plans/{plan}/versions/{version}").plan(id);
    w.expect(404, unknown.at("version", NOBODY).token(&sam_token))
        .await;
    let acknowledge = || post("/api/v1/plans/{plan}/versions/{version}/acknowledge").plan(id);
    w.expect(
        409,
        acknowledge().at("version", &version).token(&maria_token),
    )
    .await;
    w.expect(200, acknowledge().at("version", &version).token(&sam_token))
        .await;
    let restore = post("/api/v1/plans/{plan}/versions/{version}/restore").plan(id);
    w.expect(200, restore.at("version", &version).token(&sam_token))
        .await;
    let export = get(EXPORT)
        .plan(id)
        .query(&format!("?format=json&version={version}"));
    w.expect(200, export.token(&sam_token)).await;

    // HTTP sync.
    let all = w.expect(200, get(CHANGES).plan(id).token(&sam_token)).await;
    w.expect(
        400,
        get(CHANGES).plan(id).query("?since=zz").token(&sam_token),
    )
    .await;
    let maria_actor = ActorId::random();
    let upload = strength_change(&all.bytes, maria_actor.clone(), "strength-maria");
    let upload_call = post(CHANGES)
        .plan(id)
        .token(&maria_token)
        .raw(BINARY, upload.clone());
    w.expect(200, upload_call).await;
    // Sam's device claims Maria's actor: refused, whole.
    let since_upload = [all.bytes.clone(), upload].concat();
    let forged = strength_change(&since_upload, maria_actor, "strength-forged");
    w.expect(
        403,
        post(CHANGES).plan(id).token(&sam_token).raw(BINARY, forged),
    )
    .await;
    let garbage = post(CHANGES)
        .plan(id)
        .token(&sam_token)
        .raw(BINARY, "not automerge");
    w.expect(400, garbage).await;
    let mut stranger = AutoCommit::new();
    stranger.put(ROOT, "x", 1).unwrap();
    let elsewhere = post(CHANGES).plan(NOBODY).token(&sam_token);
    w.expect(404, elsewhere.raw(BINARY, stranger.save())).await;

    // The sync socket: refused before the upgrade, then upgraded.
    w.expect(401, get("/sync")).await;
    w.expect(400, get("/sync").token(&sam_token)).await;
    match cairn_tests::sync_client::open(&w.app.ws_url(&sam_token)).await {
        Ok(_socket) => {
            w.answered.insert(("GET /sync".to_owned(), 101));
        }
        Err(status) => panic!("GET /sync did not upgrade: {status}"),
    }

    // Leaving and removing.
    let maria_as_member = || delete(MEMBER).plan(id).at("user", &maria_id);
    w.expect(403, maria_as_member().token(&sam_token)).await;
    w.expect(409, maria_as_member().token(&maria_token)).await;
    let nobody = delete(MEMBER).plan(id).at("user", NOBODY);
    w.expect(404, nobody.token(&maria_token)).await;
    let sam_as_member = delete(MEMBER).plan(id).at("user", &sam_id);
    w.expect(204, sam_as_member.token(&maria_token)).await;
    w.expect(404, delete(PLAN).plan(id).token(&sam_token)).await;

    // Admin.
    let admin = w.app.admin("ada").await;
    let admin_token = admin.token().to_owned();
    let admin_id = admin.user_id().to_string();
    w.expect(200, get(ACCOUNTS).token(&admin_token)).await;
    w.expect(403, get(ACCOUNTS).token(&maria_token)).await;
    let dora_account = json!({
        "username": "dora", "displayName": "Dora", "password": cairn_tests::PASSWORD
    });
    let dora = w
        .expect(
            201,
            post(ACCOUNTS)
                .token(&admin_token)
                .json(dora_account.clone()),
        )
        .await;
    let dora_id = dora.text("/id");
    w.expect(409, post(ACCOUNTS).token(&admin_token).json(dora_account))
        .await;
    let dora_login = w
        .expect(200, post(LOGIN).json(login("dora", cairn_tests::PASSWORD)))
        .await;
    w.expect(200, post(DISABLE).at("id", &dora_id).token(&admin_token))
        .await;
    w.expect(404, post(DISABLE).at("id", NOBODY).token(&admin_token))
        .await;
    w.expect(422, post(DISABLE).at("id", &admin_id).token(&admin_token))
        .await;
    // Disabling ended Dora's sessions: her token is refused as such; her password as disabled.
    w.expect(401, get(ME).token(&dora_login.text("/accessToken")))
        .await;
    w.expect(403, post(LOGIN).json(login("dora", cairn_tests::PASSWORD)))
        .await;
    let enable = post("/api/v1/admin/accounts/{id}/enable").at("id", &dora_id);
    w.expect(200, enable.token(&admin_token)).await;
    w.expect(201, post(ENROLLMENT_CODES).token(&admin_token))
        .await;
    let limits = json!({ "maxUses": 5, "expiresInHours": 24 });
    w.expect(201, post(ENROLLMENT_CODES).token(&admin_token).json(limits))
        .await;
    let no_uses = json!({ "maxUses": 0 });
    w.expect(
        422,
        post(ENROLLMENT_CODES).token(&admin_token).json(no_uses),
    )
    .await;
    w.expect(200, get("/api/v1/admin/counts").token(&admin_token))
        .await;
    w.expect(200, get("/api/v1/admin/audit").token(&admin_token))
        .await;
    w.expect(403, get("/api/v1/admin/audit").token(&maria_token))
        .await;
    let search = get(ACCOUNTS).query("?q=dor&limit=10&offset=0");
    w.expect(200, search.token(&admin_token)).await;
    let bad_limit = get(ACCOUNTS).query("?limit=0");
    w.expect(400, bad_limit.token(&admin_token)).await;
    w.expect(200, get(ENROLLMENT_CODES).token(&admin_token))
        .await;
    w.expect(403, get(ENROLLMENT_CODES).token(&maria_token))
        .await;
    let labelled = json!({ "label": "x" });
    let code = w
        .expect(
            201,
            post(ENROLLMENT_CODES).token(&admin_token).json(labelled),
        )
        .await;
    const REVOKE: &str = "/api/v1/admin/enrollment-codes/{id}";
    let code_id = code.text("/id");
    let revoke = || delete(REVOKE).at("id", &code_id);
    w.expect(403, revoke().token(&maria_token)).await;
    w.expect(204, revoke().token(&admin_token)).await;
    w.expect(409, revoke().token(&admin_token)).await;
    w.expect(404, delete(REVOKE).at("id", NOBODY).token(&admin_token))
        .await;
    w.expect(200, get("/api/v1/admin/health").token(&admin_token))
        .await;
    w.expect(403, get("/api/v1/admin/health").token(&maria_token))
        .await;

    // Passwords, recovery codes and reset codes.
    let dora_again = w
        .expect(200, post(LOGIN).json(login("dora", cairn_tests::PASSWORD)))
        .await;
    let dora_token = dora_again.text("/accessToken");
    let change = |current: &str, new: &str| {
        post(CHANGE_PASSWORD)
            .token(&dora_token)
            .json(json!({ "currentPassword": current, "newPassword": new }))
    };
    w.expect(403, change("not her password", NEW_PASSWORD))
        .await;
    w.expect(422, change(cairn_tests::PASSWORD, "short")).await;
    w.expect(204, change(cairn_tests::PASSWORD, NEW_PASSWORD))
        .await;
    w.expect(200, get(RECOVERY_CODES).token(&dora_token)).await;
    let wrong = json!({ "password": "not her password" });
    w.expect(403, post(RECOVERY_CODES).token(&dora_token).json(wrong))
        .await;
    let confirmed = json!({ "password": NEW_PASSWORD });
    let codes = w
        .expect(201, post(RECOVERY_CODES).token(&dora_token).json(confirmed))
        .await;
    let redeem = |code: &str| json!({ "username": "dora", "code": code, "newPassword": NEW_PASSWORD, "deviceName": "x" });
    let recovery = redeem(&codes.text("/codes/0"));
    w.expect(200, post(RECOVER).json(recovery.clone())).await;
    w.expect(401, post(RECOVER).json(recovery)).await;
    w.expect(
        422,
        post(RECOVER).json(
            redeem("ABCD-EFGH")
                .as_object()
                .map(|body| {
                    let mut body = body.clone();
                    body.insert("newPassword".into(), json!("short"));
                    Value::Object(body)
                })
                .unwrap_or_default(),
        ),
    )
    .await;
    let issued = w
        .expect(201, post(RESET_CODE).at("id", &dora_id).token(&admin_token))
        .await;
    w.expect(403, post(RESET_CODE).at("id", &dora_id).token(&sam_token))
        .await;
    w.expect(
        422,
        post(RESET_CODE).at("id", &admin_id).token(&admin_token),
    )
    .await;
    w.expect(404, post(RESET_CODE).at("id", NOBODY).token(&admin_token))
        .await;
    let reset = redeem(&issued.text("/code"));
    w.expect(200, post(RESET).json(reset.clone())).await;
    w.expect(401, post(RESET).json(reset)).await;
    w.expect(403, get(PLANS).token(&admin_token)).await;

    // Passkeys: register one with a software authenticator, sign in with it, remove it.
    {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        use webauthn_authenticator_rs::prelude::Url;
        const REGISTRATION: &str = "/api/v1/me/passkeys/registration";
        const PASSKEYS: &str = "/api/v1/me/passkeys";
        const PASSKEY: &str = "/api/v1/me/passkeys/{id}";
        const FINISH: &str = "/api/v1/auth/passkey/finish";
        let origin = Url::parse(&format!("http://localhost:{}", w.app.port)).unwrap();
        let mut phone = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
        let started = w.expect(200, post(REGISTRATION).token(&maria_token)).await;
        let options = serde_json::from_value(started.json["options"].clone()).unwrap();
        let credential = phone.do_registration(origin.clone(), options).unwrap();
        let body = json!({
            "ceremonyId": started.json["ceremonyId"],
            "name": "Maria's phone",
            "credential": credential,
        });
        let passkey = w
            .expect(201, post(PASSKEYS).token(&maria_token).json(body.clone()))
            .await;
        w.expect(400, post(PASSKEYS).token(&maria_token).json(body))
            .await;
        w.expect(200, get(PASSKEYS).token(&maria_token)).await;
        let start = json!({ "username": "maria" });
        let started = w
            .expect(200, post("/api/v1/auth/passkey/start").json(start))
            .await;
        let options = serde_json::from_value(started.json["options"].clone()).unwrap();
        let assertion = phone.do_authentication(origin, options).unwrap();
        let body = json!({ "ceremonyId": started.json["ceremonyId"], "credential": assertion });
        w.expect(200, post(FINISH).json(body.clone())).await;
        w.expect(401, post(FINISH).json(body)).await;
        const CONFIRMATION: &str = "/api/v1/me/passkeys/confirmation";
        w.expect(200, post(CONFIRMATION).token(&maria_token)).await;
        w.expect(404, post(CONFIRMATION).token(&sam_token)).await;
        w.expect(404, delete(PASSKEY).at("id", NOBODY).token(&maria_token))
            .await;
        let id = passkey.text("/id");
        w.expect(204, delete(PASSKEY).at("id", &id).token(&maria_token))
            .await;
    }
    // Second factors: Maria adds an authenticator app and signs in with it; Sam removes his;
    // an admin resets Dora's lost one.
    const SECOND_FACTOR: &str = "/api/v1/me/second-factor";
    const TOTP: &str = "/api/v1/me/second-factor/totp";
    const CONFIRM: &str = "/api/v1/me/second-factor/totp/confirm";
    w.expect(200, get(SECOND_FACTOR).token(&maria_token)).await;
    let enrolment = w.expect(201, post(TOTP).token(&maria_token)).await;
    let secret = enrolment.text("/secret");
    let wrong = json!({ "code": "000000" });
    w.expect(403, post(CONFIRM).token(&maria_token).json(wrong))
        .await;
    let code = json!({ "code": cairn_tests::totp_code(&secret, 0) });
    w.expect(204, post(CONFIRM).token(&maria_token).json(code))
        .await;
    w.expect(409, post(TOTP).token(&maria_token)).await;
    let needed = w
        .expect(200, post(LOGIN).json(login("maria", cairn_tests::PASSWORD)))
        .await;
    let answer = json!({
        "challenge": needed.text("/secondFactor/challenge"),
        "code": cairn_tests::totp_code(&secret, 1),
    });
    w.expect(200, post("/api/v1/auth/second-factor").json(answer))
        .await;
    let sam_secret = w.app.enrol_totp_with(&sam_token).await;
    let sam_code = json!({ "code": cairn_tests::totp_code(&sam_secret, 1) });
    w.expect(204, delete(TOTP).token(&sam_token).json(sam_code))
        .await;
    // Dora's password is the one she set with her reset code.
    let dora = w.app.login_answer("dora", NEW_PASSWORD).await;
    assert_eq!(dora.status, 200, "{}", dora.body);
    let dora_token = dora.body["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    w.app.enrol_totp_with(&dora_token).await;
    let reset = post("/api/v1/admin/accounts/{id}/second-factor/reset").at("id", &dora_id);
    w.expect(204, reset.token(&admin_token)).await;

    // Leaving Cairn: Sam looks first, then confirms with his password; the only admin cannot.
    w.expect(200, get("/api/v1/me/leaving").token(&sam_token))
        .await;
    let wrong = json!({ "password": "not his password" });
    w.expect(401, delete(ME).token(&sam_token).json(wrong))
        .await;
    w.expect(422, delete(ME).token(&sam_token).json(json!({})))
        .await;
    let confirmed = json!({ "password": cairn_tests::PASSWORD });
    w.expect(409, delete(ME).token(&admin_token).json(confirmed.clone()))
        .await;
    w.expect(204, delete(ME).token(&sam_token).json(confirmed))
        .await;
    w.expect(401, get(ME).token(&sam_token)).await;

    // The owner deletes the plan; logging out ends the session.
    w.expect(204, delete(PLAN).plan(id).token(&maria_token))
        .await;
    w.expect(204, post("/api/v1/auth/logout").token(&maria_token))
        .await;
    w.expect(401, get(ME).token(&maria_token)).await;

    let failures = std::mem::take(&mut walk.failures);
    assert!(
        failures.is_empty(),
        "the server's answers do not fit openapi.json:\n{}",
        failures.join("\n\n")
    );
    let unanswered: Vec<String> = walk
        .operations
        .iter()
        .filter(|operation| {
            let responses = &walk.document["paths"][operation.path][operation.method]["responses"];
            let success = responses.as_object().and_then(|responses| {
                responses
                    .keys()
                    .find(|status| {
                        status.starts_with('1')
                            || status.starts_with('2')
                            || status.starts_with('3')
                    })
                    .and_then(|status| status.parse::<u16>().ok())
            });
            success.is_none_or(|status| !walk.answered.contains(&(operation.key(), status)))
        })
        .map(Operation::key)
        .collect();
    assert!(
        unanswered.is_empty(),
        "the walk never saw these operations succeed: {unanswered:#?}"
    );
}
