//! The API as OpenAPI 3.1, derived from the program: every route and
//! method the syncs wait for, the fields the syncs read from a request
//! (typed where they reach a typed parameter), and the answers the syncs
//! can give (status codes from `respondWith`, fields from `respond`).

use std::collections::BTreeMap;

use concord_concept::{ConceptSpec, ParamType};
use concord_program::routes::Segment;
use concord_program::{Builtin, EntryNeeds, Expr, ParamTypes, Program};
use serde_json::{Map, Value, json};

use crate::{ErrorShape, HttpConfig, HttpEntry};

/// The request key the edge fills from the `Authorization` header.
const TOKEN_KEY: &str = "token";

/// Methods a route that names none accepts.
const EVERY_METHOD: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The OpenAPI 3.1 document of `program` served with `config`, titled
/// `title`.
pub fn document(
    program: &Program,
    specs: &[ConceptSpec],
    entry: &HttpEntry,
    config: &HttpConfig,
    title: &str,
) -> Value {
    let types = ParamTypes::of(specs);
    let syncs = program.all_syncs();
    let needs: Vec<Option<EntryNeeds>> = syncs
        .iter()
        .map(|s| EntryNeeds::of(s, entry.action(), &types))
        .collect();
    let table = entry.routes(program);
    let mut paths = BTreeMap::new();
    let mut uses_token = false;
    for route in table.routes() {
        let path_params: Vec<&str> = route
            .template
            .segments()
            .iter()
            .filter_map(|s| match s {
                Segment::Param(p) => Some(p.as_str()),
                Segment::Literal(_) => None,
            })
            .collect();
        let path: String = route
            .template
            .segments()
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.clone(),
                Segment::Param(p) => format!("{{{p}}}"),
            })
            .collect::<Vec<_>>()
            .join("/");
        let methods: Vec<&str> = match route.any_method {
            true => EVERY_METHOD.to_vec(),
            false => route.methods.iter().map(String::as_str).collect(),
        };
        let mut item = Map::new();
        for method in methods {
            let on_method: Vec<usize> = route
                .syncs
                .iter()
                .copied()
                .filter(|&i| {
                    needs[i]
                        .as_ref()
                        .is_some_and(|n| n.method.as_deref().is_none_or(|m| m == method))
                })
                .collect();
            let here: Vec<&EntryNeeds> = on_method.iter().filter_map(|&i| needs[i].as_ref()).collect();
            let fields = RequestFields::of(&here, &path_params);
            uses_token |= fields.token;
            let mut op = Map::new();
            let starters: Vec<&str> = on_method
                .iter()
                .filter(|&&i| needs[i].as_ref().is_some_and(|n| n.starts))
                .map(|&i| syncs[i].name.as_str())
                .filter(|name| program.syncs.iter().any(|s| s.name == *name))
                .collect();
            op.insert(
                "operationId".into(),
                Value::from(operation_id(method, route.template.as_str())),
            );
            if !starters.is_empty() {
                op.insert(
                    "summary".into(),
                    Value::from(format!("started by {}", starters.join(", "))),
                );
            }
            let mut parameters: Vec<Value> = path_params
                .iter()
                .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            let in_query = matches!(method, "GET" | "DELETE");
            if in_query {
                // Query-string values arrive as text, whatever a sync makes of them.
                for (name, (required, _)) in &fields.top {
                    parameters
                        .push(json!({"name": name, "in": "query", "required": required, "schema": {"type": "string"}}));
                }
            } else if !fields.top.is_empty() {
                op.insert(
                    "requestBody".into(),
                    json!({"content": {"application/json": {"schema": fields.body_schema()}}}),
                );
            }
            if !parameters.is_empty() {
                op.insert("parameters".into(), Value::Array(parameters));
            }
            if fields.token {
                op.insert("security".into(), json!([{ "Token": [] }, {}]));
            }
            let mut responses = Map::new();
            for &i in &on_method {
                let sync = syncs[i];
                let invocations = sync.then.iter().chain(sync.otherwise.iter().map(|o| &o.invocation));
                for inv in invocations.filter(|inv| inv.responds) {
                    for (status, schema) in answers(inv) {
                        let entry = responses
                            .entry(status.clone())
                            .or_insert_with(|| json!({"description": description(&status)}));
                        if status != "204" {
                            let schemas = entry
                                .as_object_mut()
                                .expect("built as an object")
                                .entry("content")
                                .or_insert_with(|| json!({"application/json": {"schema": {"anyOf": []}}}));
                            if let Some(Value::Array(any)) = schemas.pointer_mut("/application~1json/schema/anyOf")
                                && !any.contains(&schema)
                            {
                                any.push(schema);
                            }
                        }
                    }
                }
            }
            if fields.checked {
                responses.entry("422".to_string()).or_insert_with(|| {
                    json!({
                        "description": "a field is missing or of the wrong type",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FrameworkError"}}}
                    })
                });
            }
            responses.insert(
                "default".into(),
                json!({
                    "description": "the framework's own answer: a malformed body, or a request no sync answered",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FrameworkError"}}}
                }),
            );
            simplify(&mut responses);
            op.insert("responses".into(), Value::Object(responses));
            item.insert(method.to_ascii_lowercase(), Value::Object(op));
        }
        paths.insert(path, Value::Object(item));
    }
    let mut components = Map::new();
    components.insert(
        "schemas".into(),
        json!({ "FrameworkError": framework_error_schema(config.error_shape) }),
    );
    if uses_token {
        components.insert(
            "securitySchemes".into(),
            json!({"Token": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <credential>` or `Bearer <credential>`"
            }}),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": config.base}],
        "paths": paths,
        "components": components,
    })
}

/// What a route's syncs read from a request on one method.
struct RequestFields {
    /// Top-level fields: required by every starting sync, and their schema.
    top: BTreeMap<String, (bool, Value)>,
    /// Whether some sync reads the credential.
    token: bool,
    /// Whether the edge checks fields before a flow starts (so may answer 422).
    checked: bool,
}

impl RequestFields {
    fn of(here: &[&EntryNeeds], path_params: &[&str]) -> Self {
        let mut top: BTreeMap<String, (bool, Value)> = BTreeMap::new();
        let starters: Vec<&&EntryNeeds> = here.iter().filter(|n| n.starts).collect();
        let skip = |k: &str| k == TOKEN_KEY || path_params.contains(&k);
        let mut token = false;
        let mut checked = false;
        for n in here {
            for k in n.required.iter().chain(&n.optional) {
                token |= k == TOKEN_KEY;
                if skip(k) {
                    continue;
                }
                let required = !starters.is_empty() && starters.iter().all(|s| s.required.contains(k));
                checked |= required;
                top.entry(k.clone()).or_insert_with(|| (required, json!({})));
            }
        }
        for n in here {
            for read in &n.reads {
                if !skip(&read[0]) {
                    let (_, schema) = top.entry(read[0].clone()).or_insert_with(|| (false, json!({})));
                    place(schema, &read[1..], None);
                }
            }
            for u in &n.typed {
                checked = true;
                if !skip(&u.path[0]) {
                    let (_, schema) = top.entry(u.path[0].clone()).or_insert_with(|| (false, json!({})));
                    place(schema, &u.path[1..], Some(u.ty));
                }
            }
        }
        RequestFields { top, token, checked }
    }

    fn body_schema(&self) -> Value {
        let properties: Map<String, Value> = self.top.iter().map(|(k, (_, s))| (k.clone(), s.clone())).collect();
        let required: Vec<&String> = self.top.iter().filter(|(_, (r, _))| *r).map(|(k, _)| k).collect();
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        schema
    }
}

/// Puts the field at `path` into `schema` (an object's properties), typed
/// when `ty` says so.
fn place(schema: &mut Value, path: &[String], ty: Option<ParamType>) {
    match path.split_first() {
        None => {
            if let Some(ty) = ty.and_then(type_name)
                && schema.get("type").is_none()
                && schema.get("properties").is_none()
            {
                schema["type"] = Value::from(ty);
            }
        }
        Some((field, rest)) => {
            if !schema.is_object() {
                *schema = json!({});
            }
            schema["type"] = Value::from("object");
            let properties = schema
                .as_object_mut()
                .expect("made an object")
                .entry("properties")
                .or_insert_with(|| json!({}));
            let child = properties
                .as_object_mut()
                .map(|p| p.entry(field.clone()).or_insert_with(|| json!({})));
            if let Some(child) = child {
                place(child, rest, ty);
            }
        }
    }
}

fn type_name(ty: ParamType) -> Option<&'static str> {
    Some(match ty {
        ParamType::String => "string",
        ParamType::Integer => "integer",
        ParamType::Number => "number",
        ParamType::Bool => "boolean",
        ParamType::List => "array",
        ParamType::Object => "object",
        ParamType::Any => return None,
    })
}

/// The statuses a responder invocation can answer with, each with the
/// body's schema: `respondWith`'s `code` (every literal it may be), or 200
/// with the fields of `respond`.
fn answers(inv: &concord_program::Invocation) -> Vec<(String, Value)> {
    let arg = |k: &str| inv.args.iter().find(|(key, _)| key == k).map(|(_, e)| e);
    match arg("code") {
        Some(code) => {
            let body = arg("body").map_or_else(|| json!({"type": "object"}), schema_of);
            let mut codes = Vec::new();
            status_literals(code, &mut codes);
            if codes.is_empty() {
                codes.push("default".to_string());
            }
            codes.into_iter().map(|c| (c, body.clone())).collect()
        }
        None => {
            let fields: Vec<(String, Expr)> = inv
                .args
                .iter()
                .filter(|(k, _)| k != "request")
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect();
            vec![("200".to_string(), schema_of(&Expr::Object(fields)))]
        }
    }
}

fn status_literals(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Lit(Value::Number(n)) => {
            if let Some(c) = n.as_u64().filter(|c| (100..600).contains(c)) {
                out.push(c.to_string());
            }
        }
        Expr::Call(Builtin::If, args) => args.iter().skip(1).for_each(|a| status_literals(a, out)),
        Expr::Call(Builtin::Coalesce, args) => args.iter().for_each(|a| status_literals(a, out)),
        _ => {}
    }
}

/// The JSON schema of what an expression builds, as far as its shape
/// says (a variable's value is any value).
fn schema_of(e: &Expr) -> Value {
    match e {
        Expr::Lit(v) => match v {
            Value::Null => json!({"type": "null"}),
            Value::Bool(_) => json!({"type": "boolean"}),
            Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "integer"}),
            Value::Number(_) => json!({"type": "number"}),
            Value::String(_) => json!({"type": "string"}),
            Value::Array(_) => json!({"type": "array"}),
            Value::Object(_) => json!({"type": "object"}),
        },
        Expr::Object(fields) => {
            let properties: Map<String, Value> = fields.iter().map(|(k, v)| (k.clone(), schema_of(v))).collect();
            let required: Vec<&String> = fields.iter().map(|(k, _)| k).collect();
            json!({"type": "object", "properties": properties, "required": required})
        }
        Expr::List(items) => match items.first() {
            Some(first) => json!({"type": "array", "items": schema_of(first)}),
            None => json!({"type": "array"}),
        },
        Expr::Call(Builtin::Compact, args) => {
            let mut s = args.first().map_or_else(|| json!({"type": "object"}), schema_of);
            if let Some(o) = s.as_object_mut() {
                o.remove("required");
            }
            s
        }
        Expr::Call(Builtin::If, args) if args.len() == 3 => {
            let (a, b) = (schema_of(&args[1]), schema_of(&args[2]));
            if a == b { a } else { json!({"anyOf": [a, b]}) }
        }
        Expr::Call(Builtin::Len | Builtin::Now, _) => json!({"type": "integer"}),
        Expr::Call(Builtin::Lower | Builtin::Upper | Builtin::Trim | Builtin::ToString, _) => {
            json!({"type": "string"})
        }
        Expr::Call(Builtin::Blank | Builtin::Contains | Builtin::Has, _) | Expr::Not(_) => {
            json!({"type": "boolean"})
        }
        _ => json!({}),
    }
}

/// One schema instead of `anyOf` with one choice.
fn simplify(responses: &mut Map<String, Value>) {
    for response in responses.values_mut() {
        if let Some(schema) = response.pointer_mut("/content/application~1json/schema")
            && let Some(Value::Array(any)) = schema.get("anyOf")
            && any.len() == 1
        {
            *schema = any[0].clone();
        }
    }
}

fn description(status: &str) -> String {
    match status {
        "default" => "an answer whose status the syncs compute".into(),
        s => match s
            .parse::<u16>()
            .ok()
            .and_then(|c| axum::http::StatusCode::from_u16(c).ok())
        {
            Some(code) => code.canonical_reason().unwrap_or("answer").to_string(),
            None => "answer".into(),
        },
    }
}

fn operation_id(method: &str, template: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in template.split(['/', ':', '-', '_', '.']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars.filter(char::is_ascii_alphanumeric));
        }
    }
    id
}

fn framework_error_schema(shape: ErrorShape) -> Value {
    match shape {
        ErrorShape::Message => json!({
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
            }
        }),
        ErrorShape::FieldLists => json!({
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
            }
        }),
    }
}
