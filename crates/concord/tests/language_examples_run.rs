//! The language reference's listing example runs as documented: files for a
//! valid session, `[]` (not a hung request) when there are none, and the
//! companion sync's error for an invalid session.

use std::sync::{Arc, Mutex};

use concord::{App, Outputs, Record, concept};
use concord_std::Sessioning;
use serde_json::{Value, json};

#[derive(Default)]
struct FileUploading {
    files: Mutex<Vec<(String, String, String)>>,
}

#[derive(Outputs)]
struct FileRow {
    file: String,
    filename: String,
}

#[derive(Outputs)]
struct Uploaded {
    file: String,
}

#[concept]
impl FileUploading {
    pub fn upload(&self, owner: String, filename: String) -> Uploaded {
        let mut files = self.files.lock().unwrap();
        let file = format!("file-{}", files.len() + 1);
        files.push((file.clone(), owner, filename));
        Uploaded { file }
    }

    pub fn _get_files_by_owner(&self, owner: String) -> Vec<FileRow> {
        self.files
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, o, _)| *o == owner)
            .map(|(file, _, filename)| FileRow {
                file: file.clone(),
                filename: filename.clone(),
            })
            .collect()
    }
}

/// The `sync-app` block of docs/sync-language.md that starts with `sync ListMyFiles`.
fn listing_syncs() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sync-language.md")).unwrap();
    let start = doc.find("```sync-app\nsync ListMyFiles").expect("the listing example") + "```sync-app\n".len();
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_string()
}

#[tokio::test]
async fn list_my_files_answers_rows_empty_list_or_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("files.sync"), listing_syncs()).unwrap();
    let uploads = Arc::new(FileUploading::default());
    let app = App::new();
    let requesting = app.requesting();
    let engine = app
        .concept(Sessioning::new())
        .concept_shared(uploads.clone())
        .syncs(dir.path())
        .database("sqlite::memory:")
        .load()
        .await
        .unwrap();
    let create: Record = json!({"user": "ada"}).as_object().unwrap().clone();
    let created = engine.run("Sessioning", "create", create).await.unwrap();
    let ada = created.records[0].output()["session"].as_str().unwrap().to_string();
    let ask = |session: String| {
        let (engine, requesting) = (engine.clone(), requesting.clone());
        async move {
            let input: Record = json!({"path": "/my-files", "session": session})
                .as_object()
                .unwrap()
                .clone();
            let report = engine.run("Requesting", "request", input).await.unwrap();
            let id = report.records[0].output()["request"].as_str().unwrap().to_string();
            Value::Object(requesting.take_response(&id).expect("answered"))
        }
    };
    assert_eq!(ask(ada.clone()).await, json!({"results": []}));
    uploads.upload("ada".into(), "notes.txt".into());
    uploads.upload("bob".into(), "other.txt".into());
    assert_eq!(
        ask(ada).await,
        json!({"results": [{"file": "file-1", "filename": "notes.txt"}]})
    );
    assert_eq!(ask("not-a-session".into()).await, json!({"error": "invalid session"}));
}
