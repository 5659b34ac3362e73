//! `conduit routes --openapi` describes the API from the syncs: the
//! document is valid OpenAPI 3.1 by an independent validator
//! (`openapi-spec-validator` from PyPI, installed by `.ci/run` into
//! `target/tools/py`), and it has exactly the paths and methods of the
//! RealWorld v2 specification.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn document() -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_conduit"))
        .args(["routes", "--openapi"])
        .output()
        .expect("conduit runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the document is JSON")
}

fn operations(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            out.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    out
}

#[test]
fn the_document_says_what_the_syncs_take_and_answer() {
    let doc = document();
    let login = &doc["paths"]["/users/login"]["post"];
    let user = &login["requestBody"]["content"]["application/json"]["schema"]["properties"]["user"];
    assert_eq!(
        user["properties"]["email"],
        serde_json::json!({}),
        "read by the syncs (any value: `User._byEmail` takes one): {login}"
    );
    assert_eq!(user["properties"]["password"]["type"], "string", "{login}");
    let codes: BTreeSet<&str> = login["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        codes,
        BTreeSet::from(["200", "401", "404", "422", "default"]),
        "{login}"
    );
    let register = &doc["paths"]["/users"]["post"]["responses"];
    for code in ["201", "409", "422"] {
        assert!(register.get(code).is_some(), "POST /users answers {code}: {register}");
    }
    let list = &doc["paths"]["/articles"]["get"];
    let params: BTreeSet<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        BTreeSet::from(["author", "favorited", "limit", "offset", "tag"]),
        "the token is a header, not a parameter: {list}"
    );
    assert_eq!(list["security"][0]["Token"], serde_json::json!([]));
    let slug = &doc["paths"]["/articles/{slug}"]["get"]["parameters"][0];
    assert_eq!((&slug["name"], &slug["in"]), (&"slug".into(), &"path".into()));
    assert_eq!(
        doc["paths"]["/articles/{slug}"]["delete"]["responses"]["204"]["description"],
        "No Content"
    );
}

#[test]
fn the_document_is_valid_openapi_with_the_paths_and_methods_of_realworld_v2() {
    let python = workspace().join("target/tools/py/bin/python");
    if !python.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "openapi-spec-validator is required under CI: {} is missing (.ci/run installs it)",
            python.display()
        );
        eprintln!(
            "note: skipped; install the validator with `python3 -m venv target/tools/py && target/tools/py/bin/pip install openapi-spec-validator pyyaml`"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("conduit-openapi.json");
    let doc = document();
    std::fs::write(&ours, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let spec = workspace().join("../shared/realworld/openapi-v2.yml");
    // Validates ours, then prints the reference's operations as JSON.
    let script = r#"
import json, sys, yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
ours, _ = read_from_filename(sys.argv[1])
validate(ours)
with open(sys.argv[2]) as f:
    spec = yaml.safe_load(f)
methods = {"get", "put", "post", "delete", "patch", "head", "options"}
print(json.dumps(sorted(f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in item if m in methods)))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(&ours)
        .arg(&spec)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the validator refused the document:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: BTreeSet<String> = serde_json::from_slice(&out.stdout).expect("operations as JSON");
    assert_eq!(operations(&doc), reference, "conduit's operations are RealWorld v2's");
}
