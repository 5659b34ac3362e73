//! SQL for collection operations, in the two dialects. Documents are JSON
//! objects in a `doc` column beside an `id` column; fields are reached with
//! `json_extract(doc, '$.f')` (SQLite) or `(doc->'f')` (PostgreSQL), and
//! indexes use exactly the same expressions so that lookups can use them.

use concord_concept::StateError;
use concord_concept::state::{Change, CollectionSpec, Cond, Op, Query};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    /// Compared against an extracted field.
    Scalar(Value),
    /// A whole JSON document or object (as text in SQLite, jsonb in PostgreSQL).
    Json(Value),
    /// Ids, as one `text[]` (PostgreSQL only: `id = ANY($n)`).
    TextArray(Vec<String>),
    /// Values compared against an extracted field, as one `jsonb[]`
    /// (PostgreSQL only: `field = ANY($n)`).
    ScalarArray(Vec<Value>),
}

#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

/// What a statement returns.
pub(crate) enum Shape {
    Docs,
    Count,
    Affected,
}

impl Dialect {
    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    pub fn field(self, f: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract(doc, '$.{f}')"),
            Dialect::Postgres => format!("(doc->'{f}')"),
        }
    }

    pub fn json_type(self) -> &'static str {
        match self {
            Dialect::Sqlite => "TEXT",
            Dialect::Postgres => "JSONB",
        }
    }
}

/// Table name of a logical collection (`Sessioning.sessions` →
/// `c__Sessioning__sessions`).
pub(crate) fn table(collection: &str) -> String {
    let clean: String = collection
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("c__{}", clean.replacen('.', "__", 1).replace('.', "_"));
    // PostgreSQL truncates identifiers at 63 bytes, and index names add a
    // suffix: keep long names unique by hashing them.
    if name.len() > 40 {
        let hash = collection.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        format!("{}_{hash:016x}", &name[..20])
    } else {
        name
    }
}

pub(crate) fn unique_index(collection: &str, field: &str) -> String {
    format!("{}__u__{field}", table(collection))
}

/// A plain index: the field, then the id, ordered as `ORDER BY` orders
/// them (nulls first ascending), so that one index serves a lookup on the
/// field and a sort on it in either direction with the id as tie-break.
fn index_name(collection: &str, field: &str) -> String {
    format!("{}__o__{field}", table(collection))
}

/// The name of the first form of plain index (the field alone, which no
/// sort could use on PostgreSQL), dropped where a database still has it.
fn first_index_name(collection: &str, field: &str) -> String {
    format!("{}__i__{field}", table(collection))
}

/// Field names are plain identifiers (they are spliced into SQL).
pub(crate) fn check_field(f: &str) -> Result<(), StateError> {
    let ok = !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && f.len() <= 40;
    if ok {
        Ok(())
    } else {
        Err(StateError::Backend(format!(
            "field `{f}` cannot be queried: fields are letters, digits and `_` (at most 40)"
        )))
    }
}

/// DDL for a collection: its table, unique and plain indexes.
pub(crate) fn create_collection(d: Dialect, spec: &CollectionSpec) -> Result<Vec<String>, StateError> {
    let t = table(&spec.name);
    let mut out = vec![format!(
        "CREATE TABLE IF NOT EXISTS \"{t}\" (id TEXT PRIMARY KEY, doc {} NOT NULL)",
        d.json_type()
    )];
    for f in &spec.unique {
        check_field(f)?;
        out.push(format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS \"{}\" ON \"{t}\" (({}))",
            unique_index(&spec.name, f),
            d.field(f)
        ));
    }
    for f in &spec.indexes {
        check_field(f)?;
        out.push(format!("DROP INDEX IF EXISTS \"{}\"", first_index_name(&spec.name, f)));
        // SQLite puts nulls first ascending anyway, and takes no NULLS
        // clause in an index.
        let nulls = if d == Dialect::Postgres { " NULLS FIRST" } else { "" };
        out.push(format!(
            "CREATE INDEX IF NOT EXISTS \"{}\" ON \"{t}\" (({}) ASC{nulls}, id ASC)",
            index_name(&spec.name, f),
            d.field(f)
        ));
    }
    Ok(out)
}

struct Builder {
    d: Dialect,
    params: Vec<Param>,
}

impl Builder {
    fn push(&mut self, p: Param) -> String {
        self.params.push(p);
        self.d.placeholder(self.params.len())
    }

    fn cond(&mut self, c: &Cond) -> Result<String, StateError> {
        let d = self.d;
        Ok(match c {
            Cond::Id(id) => format!("id = {}", self.push(Param::Text(id.clone()))),
            Cond::IdIn(ids) if ids.is_empty() => "1 = 0".to_string(),
            // PostgreSQL gets the list as one array: one statement text
            // (one prepared statement, one cached plan) for any length.
            Cond::IdIn(ids) if d == Dialect::Postgres => {
                format!("id = ANY({})", self.push(Param::TextArray(ids.clone())))
            }
            Cond::IdIn(ids) => {
                let ps: Vec<String> = ids.iter().map(|id| self.push(Param::Text(id.clone()))).collect();
                format!("id IN ({})", ps.join(", "))
            }
            Cond::Eq(f, Value::Null) | Cond::Exists(f, false) => {
                check_field(f)?;
                self.is_null(f)
            }
            Cond::Exists(f, true) => {
                check_field(f)?;
                format!("NOT ({})", self.is_null(f))
            }
            Cond::Eq(f, v) => {
                check_field(f)?;
                format!("{} = {}", d.field(f), self.scalar(v))
            }
            Cond::Ne(f, Value::Null) => {
                check_field(f)?;
                format!("NOT ({})", self.is_null(f))
            }
            Cond::Ne(f, v) => {
                check_field(f)?;
                let p = self.scalar(v);
                format!("({} OR {} <> {p})", self.is_null(f), d.field(f))
            }
            Cond::Lt(f, v) | Cond::Gt(f, v) => {
                check_field(f)?;
                let op = if matches!(c, Cond::Lt(..)) { "<" } else { ">" };
                format!("{} {op} {}", d.field(f), self.scalar(v))
            }
            Cond::In(f, vs) => {
                check_field(f)?;
                if vs.is_empty() {
                    "1 = 0".to_string()
                } else if d == Dialect::Postgres {
                    format!("{} = ANY({})", d.field(f), self.push(Param::ScalarArray(vs.clone())))
                } else {
                    let ps: Vec<String> = vs.iter().map(|v| self.scalar(v)).collect();
                    format!("{} IN ({})", d.field(f), ps.join(", "))
                }
            }
        })
    }

    fn is_null(&self, f: &str) -> String {
        match self.d {
            Dialect::Sqlite => format!("{} IS NULL", self.d.field(f)),
            Dialect::Postgres => format!("COALESCE(jsonb_typeof({}), 'null') = 'null'", self.d.field(f)),
        }
    }

    fn scalar(&mut self, v: &Value) -> String {
        self.push(Param::Scalar(v.clone()))
    }

    fn filter(&mut self, q: &Query) -> Result<String, StateError> {
        if q.conds.is_empty() {
            return Ok("1 = 1".into());
        }
        let parts = q.conds.iter().map(|c| self.cond(c)).collect::<Result<Vec<_>, _>>()?;
        Ok(parts.join(" AND "))
    }

    fn order_limit(&mut self, q: &Query, paged: bool) -> Result<String, StateError> {
        let mut order: Vec<String> = Vec::new();
        for (f, asc) in &q.sort {
            check_field(f)?;
            let dir = if *asc { "ASC NULLS FIRST" } else { "DESC NULLS LAST" };
            order.push(format!("{} {dir}", self.d.field(f)));
        }
        // Ties go by id, in the direction of the last sort key: with
        // time-ordered ids (UUID v7), "newest first" stays newest first
        // within a millisecond.
        let last_ascending = q.sort.last().is_none_or(|(_, asc)| *asc);
        order.push(if last_ascending { "id ASC" } else { "id DESC" }.into());
        let mut s = format!(" ORDER BY {}", order.join(", "));
        if paged {
            s.push_str(&page(self.d, q));
        }
        Ok(s)
    }

    /// `WHERE ...`, narrowed to a page through a subquery when the query
    /// has a limit or offset (UPDATE and DELETE have no LIMIT of their own).
    fn target(&mut self, t: &str, q: &Query) -> Result<String, StateError> {
        let filter = self.filter(q)?;
        if q.limit.is_none() && q.offset.is_none() {
            return Ok(format!("WHERE {filter}"));
        }
        let page = self.order_limit(q, true)?;
        Ok(format!("WHERE id IN (SELECT id FROM \"{t}\" WHERE {filter}{page})"))
    }
}

/// ` LIMIT n OFFSET m` for a query's page (nothing when it has neither).
fn page(d: Dialect, q: &Query) -> String {
    let mut s = String::new();
    if q.limit.is_some() || q.offset.is_some() {
        match q.limit {
            Some(n) => s.push_str(&format!(" LIMIT {n}")),
            None if d == Dialect::Sqlite => s.push_str(" LIMIT -1"),
            None => s.push_str(" LIMIT ALL"),
        }
        if let Some(o) = q.offset {
            s.push_str(&format!(" OFFSET {o}"));
        }
    }
    s
}

/// The SQL for one operation, and what it returns.
pub(crate) fn statement(d: Dialect, op: &Op) -> Result<(Sql, Shape), StateError> {
    let mut b = Builder { d, params: Vec::new() };
    let (text, shape) = match op {
        Op::Insert { collection, id, doc } => {
            let t = table(collection);
            let i = b.push(Param::Text(id.clone()));
            let j = b.push(Param::Json(doc.clone()));
            (
                format!("INSERT INTO \"{t}\" (id, doc) VALUES ({i}, {j})"),
                Shape::Affected,
            )
        }
        Op::Find { collection, query } => {
            let t = table(collection);
            let filter = b.filter(query)?;
            let page = b.order_limit(query, true)?;
            (format!("SELECT id, doc FROM \"{t}\" WHERE {filter}{page}"), Shape::Docs)
        }
        Op::Distinct {
            collection,
            field,
            query,
        } => {
            check_field(field)?;
            let t = table(collection);
            let value = d.field(field);
            // Each value found by one probe of the field's index for the
            // next greater one (a loose index scan, which neither database
            // plans by itself): as many probes as distinct values, however
            // many documents share them. Ordered as the index is, nulls
            // first, or PostgreSQL cannot use it.
            let first_filter = b.filter(query)?;
            let next_filter = b.filter(query)?;
            let pair = match d {
                Dialect::Sqlite => format!("json_object('{field}', value)"),
                Dialect::Postgres => format!("jsonb_build_object('{field}', value)"),
            };
            let page = page(d, query);
            (
                format!(
                    "WITH RECURSIVE found(value) AS (\
                     SELECT (SELECT {value} FROM \"{t}\" WHERE {first_filter} AND {value} IS NOT NULL ORDER BY {value} ASC NULLS FIRST LIMIT 1) \
                     UNION ALL \
                     SELECT (SELECT {value} FROM \"{t}\" WHERE {next_filter} AND {value} > found.value ORDER BY {value} ASC NULLS FIRST LIMIT 1) \
                     FROM found WHERE found.value IS NOT NULL) \
                     SELECT '', {pair} FROM found WHERE value IS NOT NULL ORDER BY value{page}"
                ),
                Shape::Docs,
            )
        }
        Op::CountBy {
            collection,
            field,
            query,
        } => {
            check_field(field)?;
            let t = table(collection);
            let filter = b.filter(query)?;
            let value = d.field(field);
            let group = match d {
                Dialect::Sqlite => format!("json_object('{field}', {value}, 'count', COUNT(*))"),
                Dialect::Postgres => format!("jsonb_build_object('{field}', {value}, 'count', COUNT(*))"),
            };
            (
                format!(
                    "SELECT '', {group} FROM \"{t}\" WHERE {filter} AND {value} IS NOT NULL GROUP BY {value} ORDER BY {value}"
                ),
                Shape::Docs,
            )
        }
        Op::Count { collection, query } => {
            let t = table(collection);
            let filter = b.filter(query)?;
            (format!("SELECT COUNT(*) FROM \"{t}\" WHERE {filter}"), Shape::Count)
        }
        Op::Update {
            collection,
            query,
            change,
        } => {
            let t = table(collection);
            let set = match change {
                Change::Replace(doc) => format!("doc = {}", b.push(Param::Json(doc.clone()))),
                Change::Set(fields) if fields.is_empty() => "doc = doc".to_string(),
                Change::Set(fields) => match d {
                    Dialect::Sqlite => {
                        let mut parts = Vec::new();
                        for (k, v) in fields {
                            check_field(k)?;
                            let p = b.push(Param::Text(v.to_string()));
                            parts.push(format!("'$.{k}', json({p})"));
                        }
                        format!("doc = json_set(doc, {})", parts.join(", "))
                    }
                    Dialect::Postgres => {
                        format!("doc = doc || {}", b.push(Param::Json(Value::Object(fields.clone()))))
                    }
                },
            };
            let target = b.target(&t, query)?;
            (format!("UPDATE \"{t}\" SET {set} {target}"), Shape::Affected)
        }
        Op::Delete { collection, query } => {
            let t = table(collection);
            let target = b.target(&t, query)?;
            (format!("DELETE FROM \"{t}\" {target}"), Shape::Affected)
        }
    };
    Ok((Sql { text, params: b.params }, shape))
}

/// The field a unique index protects, from the index or constraint name.
pub(crate) fn field_of_index(name: &str) -> String {
    match name.rsplit_once("__u__") {
        Some((_, f)) => f.to_string(),
        None => "_id".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_names_are_safe_identifiers() {
        assert_eq!(table("Sessioning.sessions"), "c__Sessioning__sessions");
        assert!(
            table("A.b\"; DROP TABLE x; --")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        );
        assert!(table(&"X.".repeat(60)).len() <= 63);
    }

    /// The plan SQLite chooses for `op` over a collection indexed on `n`.
    fn sqlite_plan(op: &Op) -> String {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let spec = CollectionSpec {
            name: "A.b".into(),
            unique: Vec::new(),
            indexes: vec!["n".into(), "user".into()],
        };
        for ddl in create_collection(Dialect::Sqlite, &spec).unwrap() {
            conn.execute_batch(&ddl).unwrap();
        }
        let (s, _) = statement(Dialect::Sqlite, op).unwrap();
        let params: Vec<rusqlite::types::Value> = s
            .params
            .iter()
            .map(|_| rusqlite::types::Value::Text("x".into()))
            .collect();
        let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", s.text)).unwrap();
        let rows = plan
            .query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn sorted_pages_and_distinct_values_are_read_from_the_field_index() {
        for ascending in [true, false] {
            let op = Op::Find {
                collection: "A.b".into(),
                query: Query::all().sort("n", ascending).limit(20),
            };
            let plan = sqlite_plan(&op);
            assert!(plan.contains("USING INDEX c__A__b__o__n"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "no sort step: {plan}");
        }
        // Distinct values: probes of the index, not a scan of it.
        let plan = sqlite_plan(&Op::Distinct {
            collection: "A.b".into(),
            field: "n".into(),
            query: Query::all(),
        });
        assert!(
            plan.contains("SEARCH c__A__b USING COVERING INDEX c__A__b__o__n (<expr>>?)"),
            "{plan}"
        );
        assert!(
            plan.split("; ")
                .filter(|p| p.starts_with("SCAN c__A__b"))
                .all(|p| p.contains("INDEX c__A__b__o__n")),
            "the first probe reads the index from its start: {plan}"
        );
        // A lookup on the field uses the same index.
        let plan = sqlite_plan(&Op::Find {
            collection: "A.b".into(),
            query: Query::eq("user", "u1"),
        });
        assert!(plan.contains("USING INDEX c__A__b__o__user"), "{plan}");
    }

    #[tokio::test]
    async fn postgres_reads_sorted_pages_and_distinct_values_from_the_field_index() {
        let Some(db) = crate::testing::ScratchDatabase::create("plan").await else {
            return;
        };
        let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let spec = CollectionSpec {
            name: "A.b".into(),
            unique: Vec::new(),
            indexes: vec!["n".into()],
        };
        for ddl in create_collection(Dialect::Postgres, &spec).unwrap() {
            client.batch_execute(&ddl).await.unwrap();
        }
        client
            .batch_execute(
                "INSERT INTO \"c__A__b\" SELECT 'd' || i, jsonb_build_object('n', i % 97) FROM generate_series(1, 2000) i; \
                 ANALYZE \"c__A__b\"",
            )
            .await
            .unwrap();
        // Unrestricted queries filter by `1 = 1`: no parameters to bind.
        let plan = |op: Op| {
            let client = &client;
            async move {
                let (s, _) = statement(Dialect::Postgres, &op).unwrap();
                assert!(s.params.is_empty(), "{}", s.text);
                let rows = client.query(&format!("EXPLAIN {}", s.text), &[]).await.unwrap();
                rows.iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        for ascending in [true, false] {
            let plan = plan(Op::Find {
                collection: "A.b".into(),
                query: Query::all().sort("n", ascending).limit(20),
            })
            .await;
            assert!(plan.contains("Index Scan") && plan.contains("c__A__b__o__n"), "{plan}");
            assert!(!plan.contains("Sort"), "no sort step:\n{plan}");
        }
        let plan = plan(Op::Distinct {
            collection: "A.b".into(),
            field: "n".into(),
            query: Query::all(),
        })
        .await;
        assert!(plan.contains("c__A__b__o__n") && !plan.contains("Seq Scan"), "{plan}");
    }

    #[test]
    fn the_first_form_of_plain_index_is_replaced() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE \"c__A__b\" (id TEXT PRIMARY KEY, doc TEXT NOT NULL); \
             CREATE INDEX \"c__A__b__i__n\" ON \"c__A__b\" ((json_extract(doc, '$.n')))",
        )
        .unwrap();
        let spec = CollectionSpec {
            name: "A.b".into(),
            unique: Vec::new(),
            indexes: vec!["n".into()],
        };
        for ddl in create_collection(Dialect::Sqlite, &spec).unwrap() {
            conn.execute_batch(&ddl).unwrap();
        }
        let mut names = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'c__A__b' AND sql IS NOT NULL")
            .unwrap();
        let names: Vec<String> = names.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(names, ["c__A__b__o__n"]);
    }

    #[test]
    fn field_names_are_checked() {
        assert!(check_field("tagList").is_ok());
        assert!(check_field("a'b").is_err());
        assert!(check_field("").is_err());
    }

    #[test]
    fn queries_in_both_dialects() {
        let op = Op::Find {
            collection: "A.b".into(),
            query: Query::eq("user", "u1")
                .and(Cond::Gt("n".into(), json!(3)))
                .sort("n", false)
                .limit(5)
                .offset(10),
        };
        let (s, _) = statement(Dialect::Sqlite, &op).unwrap();
        assert_eq!(
            s.text,
            "SELECT id, doc FROM \"c__A__b\" WHERE json_extract(doc, '$.user') = ?1 AND json_extract(doc, '$.n') > ?2 \
             ORDER BY json_extract(doc, '$.n') DESC NULLS LAST, id DESC LIMIT 5 OFFSET 10"
        );
        let (p, _) = statement(Dialect::Postgres, &op).unwrap();
        assert_eq!(
            p.text,
            "SELECT id, doc FROM \"c__A__b\" WHERE (doc->'user') = $1 AND (doc->'n') > $2 \
             ORDER BY (doc->'n') DESC NULLS LAST, id DESC LIMIT 5 OFFSET 10"
        );
        assert_eq!(p.params, vec![Param::Scalar(json!("u1")), Param::Scalar(json!(3))]);
    }

    #[test]
    fn postgres_sends_a_list_as_one_array_whatever_its_length() {
        let among = |ids: &[&str], tags: &[&str]| Op::Find {
            collection: "A.b".into(),
            query: Query::all()
                .and(Cond::IdIn(ids.iter().map(|s| s.to_string()).collect()))
                .and(Cond::In("tag".into(), tags.iter().map(|t| json!(t)).collect())),
        };
        let (one, _) = statement(Dialect::Postgres, &among(&["a"], &["x"])).unwrap();
        let (three, _) = statement(Dialect::Postgres, &among(&["a", "b", "c"], &["x", "y", "z"])).unwrap();
        assert_eq!(one.text, three.text);
        assert!(
            one.text.contains("id = ANY($1) AND (doc->'tag') = ANY($2)"),
            "{}",
            one.text
        );
        assert_eq!(
            three.params,
            vec![
                Param::TextArray(vec!["a".into(), "b".into(), "c".into()]),
                Param::ScalarArray(vec![json!("x"), json!("y"), json!("z")]),
            ]
        );
        // SQLite spells the list out.
        let (s, _) = statement(Dialect::Sqlite, &among(&["a", "b"], &["x"])).unwrap();
        assert!(s.text.contains("id IN (?1, ?2)"), "{}", s.text);
    }

    #[test]
    fn limited_deletes_go_through_a_subquery() {
        let op = Op::Delete {
            collection: "A.b".into(),
            query: Query::eq("user", "u1").limit(1),
        };
        let (s, _) = statement(Dialect::Sqlite, &op).unwrap();
        assert!(
            s.text
                .starts_with("DELETE FROM \"c__A__b\" WHERE id IN (SELECT id FROM \"c__A__b\" WHERE"),
            "{}",
            s.text
        );
    }
}
