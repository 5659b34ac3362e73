//! Loading an app: concepts plus a `syncs/` directory, checked, then run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use concord_concept::{Concept, ConceptSpec};
use concord_engine::{Engine, EngineBuilder, EngineError};
use concord_std::Requesting;
use concord_syntax::{SourceMap, render_all};

use crate::settings::{Settings, SettingsError};

/// Why an app could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A sync file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The syncs have errors (the rendered diagnostics are included).
    #[error("{errors} error(s) in the syncs:\n{rendered}")]
    Check {
        /// Number of errors.
        errors: usize,
        /// All diagnostics, rendered.
        rendered: String,
    },
    /// The engine refused the concepts or program.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The database could not be opened or prepared.
    #[error(transparent)]
    Store(#[from] concord_store::StoreError),
    /// A setting is malformed.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// The outcome of checking a directory of syncs.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Rendered diagnostics (empty if none).
    pub rendered: String,
    /// Number of errors.
    pub errors: usize,
    /// Number of warnings.
    pub warnings: usize,
    /// Number of sync files read.
    pub files: usize,
}

/// An app: its concepts and where its syncs are.
pub struct App {
    builder: EngineBuilder,
    syncs: PathBuf,
    database: Option<String>,
    requesting: Arc<Requesting>,
    passthrough: Option<PathBuf>,
    /// Set by [`App::settings`] or the command line; otherwise read from the
    /// environment when needed.
    settings: Option<Settings>,
    /// The shape of the framework's own error answers, if the app chose one.
    error_shape: Option<concord_http::ErrorShape>,
}

/// A loaded app wired to HTTP: what [`App::serve_with`] returns.
pub struct Served {
    /// The running engine.
    pub engine: Engine,
    /// The store its state and log are in.
    pub store: Arc<dyn concord_store::Backend>,
    /// The router: every request becomes a flow of the app's `Requesting`;
    /// in development mode it also serves the flow explorer.
    pub router: concord_http::Router,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An app with only the standard `Requesting` concept; syncs in `./syncs`.
    pub fn new() -> Self {
        let requesting = Arc::new(Requesting::new());
        App {
            builder: EngineBuilder::new().concept_shared(requesting.clone()),
            syncs: PathBuf::from("syncs"),
            database: None,
            requesting,
            passthrough: None,
            error_shape: None,
            settings: None,
        }
    }

    /// Uses these settings (host, port, database, HTTP) instead of reading
    /// them from the environment.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// The settings in force: those given, else the environment and `.env`.
    pub fn settings_in_force(&self) -> Result<Settings, SettingsError> {
        match &self.settings {
            Some(s) => Ok(s.clone()),
            None => Settings::from_env(),
        }
    }

    /// Registers a concept.
    pub fn concept<C: Concept>(mut self, concept: C) -> Self {
        self.builder = self.builder.concept(concept);
        self
    }

    /// Registers a concept the caller keeps a handle to.
    pub fn concept_shared(mut self, concept: std::sync::Arc<dyn Concept>) -> Self {
        self.builder = self.builder.concept_shared(concept);
        self
    }

    /// Where the `.sync` files are (searched recursively).
    pub fn syncs(mut self, dir: impl Into<PathBuf>) -> Self {
        self.syncs = dir.into();
        self
    }

    /// Where state and the action log live: `sqlite://PATH` (the default is
    /// `sqlite://data/concord.db`, or `DATABASE_URL` when set),
    /// `sqlite::memory:`, or `postgres://...`.
    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.database = Some(url.into());
        self
    }

    /// The database URL in force: set with [`App::database`], else
    /// `DATABASE_URL` (from the settings given, else the environment and
    /// `.env`), else the embedded default.
    pub fn database_url(&self) -> String {
        let from_settings = || match &self.settings {
            Some(s) => s.database_url.clone(),
            None => Settings::lookup("DATABASE_URL"),
        };
        self.database
            .clone()
            .or_else(from_settings)
            .unwrap_or_else(|| DEFAULT_DATABASE.to_string())
    }

    /// Changes engine settings (step quota, action log).
    pub fn configure(mut self, f: impl FnOnce(EngineBuilder) -> EngineBuilder) -> Self {
        self.builder = f(self.builder);
        self
    }

    /// The key names redacted at any depth (see
    /// [`EngineBuilder::secret_key_names`], set through [`App::configure`]).
    pub fn secret_key_names(&self) -> &[String] {
        self.builder.secret_key_names_in_force()
    }

    /// The registered concepts' signatures.
    pub fn specs(&self) -> Vec<ConceptSpec> {
        self.builder.specs()
    }

    /// Checks the syncs in `dir` against the concepts without running anything.
    pub fn check(&self, dir: &Path) -> Result<CheckReport, LoadError> {
        let (checked, sources, files) = self.check_dir(dir)?;
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        Ok(CheckReport {
            rendered: render_all(&checked.diagnostics, &sources),
            errors,
            warnings: checked.diagnostics.len() - errors,
            files,
        })
    }

    /// Checks the syncs, opens the database (creating or migrating its
    /// schema and the concepts' collections) and builds the engine. Warnings
    /// are logged; errors refuse to load.
    pub async fn load(self) -> Result<Engine, LoadError> {
        Ok(self.load_with_store().await?.0)
    }

    /// Like [`App::load`], also returning the store (for tools that read
    /// the action log, such as the flow explorer).
    pub async fn load_with_store(self) -> Result<(Engine, Arc<dyn concord_store::Backend>), LoadError> {
        let (checked, sources, _) = self.check_dir(&self.syncs)?;
        let rendered = render_all(&checked.diagnostics, &sources);
        let Some(program) = checked.program else {
            let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
            return Err(LoadError::Check { errors, rendered });
        };
        if !checked.diagnostics.is_empty() {
            tracing::warn!(target: "concord::check", "\n{rendered}");
        }
        let url = self.database_url();
        let settings = self.settings_in_force()?;
        let store = concord_store::open_node(&url, &settings.log, &settings.node).await?;
        let collections = self.builder.specs().into_iter().flat_map(|s| s.collections).collect();
        store.ensure_collections(collections).await?;
        tracing::info!(
            target: "concord::check",
            "loaded {} sync(s) from {}; state in {} ({})",
            program.all_syncs().len(),
            self.syncs.display(),
            redact_url(&url),
            store.kind()
        );
        spawn_retention(store.clone(), settings.log.clone());
        let engine = self
            .builder
            .store(store.clone())
            .value_limits(settings.log_values)
            .build(program)?;
        Ok((engine, store))
    }

    /// Loads the app and wires it to HTTP: its `Requesting` into a router
    /// with `config` (and the flow explorer when `config.dev`).
    ///
    /// Before it returns, every flow a crash interrupted is finished (its
    /// answer, if its connection is gone, stays in its record); then, while
    /// the process runs, this node renews the leases of the flows it runs
    /// and takes over those of nodes that stopped renewing theirs.
    pub async fn serve_with(self, mut config: concord_http::HttpConfig) -> Result<Served, LoadError> {
        if let Some(shape) = self.error_shape {
            config.error_shape = shape;
        }
        let requesting = self.requesting.clone();
        let lease = self.settings_in_force()?.node.lease;
        let (engine, store) = self.load_with_store().await?;
        let resumed = engine.resume_interrupted(concord_store::Claim::AtStart).await;
        if !resumed.is_empty() {
            tracing::info!(target: "concord::flow", "finished {} interrupted flow(s)", resumed.len());
        }
        spawn_lease_keeper(engine.clone(), store.clone(), lease);
        let router = concord_http::router_with_explorer(engine.clone(), requesting, config, Some(store.clone()));
        Ok(Served { engine, store, router })
    }

    /// [`App::serve_with`], for the router alone.
    pub async fn router(self, config: concord_http::HttpConfig) -> Result<concord_http::Router, LoadError> {
        Ok(self.serve_with(config).await?.router)
    }

    /// Shapes the answers the framework gives itself (404, 405, a malformed
    /// body, a missing or mistyped field, 5xx) as `shape`, whatever the
    /// config passed to [`App::serve_with`] says: the API's error format is
    /// the app's, not its operator's.
    pub fn error_shape(mut self, shape: concord_http::ErrorShape) -> Self {
        self.error_shape = Some(shape);
        self
    }

    /// `import-ts FILE.sync.ts… [--out DIR]`: the TypeScript template's
    /// syncs as `.sync` text (printed, or written to `DIR/<name>.sync`),
    /// then checked against the app's concepts; fails if the result has
    /// errors (parts left untranslated are E0295).
    #[cfg(feature = "import-ts")]
    fn import_ts(&self, args: &[String]) -> Result<(), String> {
        let mut out_dir = None;
        let mut files = Vec::new();
        let mut rest = args.iter();
        while let Some(a) = rest.next() {
            match a.as_str() {
                "--out" => out_dir = Some(PathBuf::from(rest.next().ok_or("`--out` needs a directory")?)),
                f => files.push(PathBuf::from(f)),
            }
        }
        if files.is_empty() {
            return Err("usage: import-ts FILE.sync.ts... [--out DIR]".into());
        }
        let mut inputs = Vec::new();
        let (mut syncs, mut untranslated) = (0, 0);
        for file in &files {
            let ts = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let t = concord_import::translate(&ts).map_err(|e| format!("{}: {e}", file.display()))?;
            (syncs, untranslated) = (syncs + t.syncs, untranslated + t.untranslated);
            let stem = file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let module = stem.trim_end_matches(".ts").trim_end_matches(".sync").to_string();
            let text = concord_syntax::format::format(&t.text).unwrap_or(t.text);
            let name = match &out_dir {
                Some(dir) => {
                    let path = dir.join(format!("{module}.sync"));
                    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                    path.display().to_string()
                }
                None => {
                    println!("# ---- translated from {}\n{text}", file.display());
                    format!("{module}.sync")
                }
            };
            inputs.push(concord_check::SourceText { name, module, text });
        }
        let mut sources = SourceMap::new();
        let checked = concord_check::load(&mut sources, inputs, &self.specs());
        eprint!("{}", render_all(&checked.diagnostics, &sources));
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        eprintln!(
            "{syncs} sync(s) translated, {untranslated} part(s) left to translate by hand (E0295), {errors} error(s)"
        );
        match errors {
            0 => Ok(()),
            n => Err(format!("the translated syncs have {n} error(s)")),
        }
    }

    #[cfg(not(feature = "import-ts"))]
    fn import_ts(&self, _args: &[String]) -> Result<(), String> {
        Err("this app was built without concord's `import-ts` feature: add `features = [\"import-ts\"]` to its `concord` dependency".into())
    }

    /// The error shape the app chose with [`App::error_shape`], if any.
    pub fn error_shape_chosen(&self) -> Option<concord_http::ErrorShape> {
        self.error_shape
    }

    /// Runs the app's command line:
    ///
    /// - `serve` (the default): load, then serve HTTP on `HOST:PORT`;
    /// - `check [DIR]`: check syncs, print diagnostics, exit non-zero on errors
    ///   (no server, no database);
    /// - `routes`: every request path the syncs handle and which sync answers
    ///   each outcome; `routes --openapi`: the API as an OpenAPI 3.1 document;
    /// - `trace [FLOW]`: a flow from the action log as a tree (without FLOW,
    ///   the recent flows);
    /// - `why FLOW [SYNC]`: the syncs that came close to firing, and why not;
    /// - `graph [--svg]`: the sync graph;
    /// - `expand [SYNC]`: syncs with `else` clauses, each with its companions.
    ///
    /// Settings come from `serve`'s flags, then the environment, then `.env`
    /// in the working directory: `PORT` (8000), `HOST` (127.0.0.1), `DATABASE_URL`,
    /// `REQUESTING_BASE_URL` (`/api`), `REQUESTING_TIMEOUT` (ms, 10000),
    /// `REQUESTING_ALLOWED_ORIGIN` (none), `REQUESTING_MAX_BODY` (bytes, or
    /// with `KiB`/`MiB`/`GiB`; 1 MiB), `REQUESTING_HEADER_TIMEOUT` (ms a
    /// client has to send a request's headers, also closing idle keep-alive
    /// connections; 10000), `REQUESTING_BODY_TIMEOUT` (ms to send the body;
    /// 30000), `REQUESTING_MAX_CONNECTIONS` (512),
    /// `CONCORD_DEV` (off).
    pub async fn main(self) -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let flags = match args.first().map(String::as_str) {
            Some("serve") => &args[1..],
            _ => &[],
        };
        // Read once; every command below reads this value.
        let settings = match &self.settings {
            Some(s) => Ok(s.clone()),
            None => Settings::load(flags),
        };
        let app = match settings {
            Ok(s) => self.settings(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        app.run_command(&args).await
    }

    async fn run_command(self, args: &[String]) -> ExitCode {
        let result = match args.first().map(String::as_str) {
            None | Some("serve") => crate::serve::serve(self).await,
            Some("check") => {
                let dir = args.get(1).map_or_else(|| self.syncs.clone(), PathBuf::from);
                self.check_command(&dir)
            }
            Some("routes") if args.get(1).is_some_and(|a| a == "--openapi") => crate::serve::openapi(&self),
            Some("routes") => crate::serve::routes(&self),
            Some("why") => match args.get(1) {
                Some(flow) => crate::serve::why(self, flow, args.get(2).map(String::as_str)).await,
                None => Err("usage: why FLOW [SYNC]".into()),
            },
            Some("graph") => self.program().map_err(|e| e.to_string()).map(|p| {
                if args.get(1).is_some_and(|a| a == "--svg") {
                    print!("{}", concord_program::graph::svg(&p));
                } else {
                    print!("{}", concord_program::graph::dot(&p));
                }
            }),
            Some("trace") => crate::serve::trace(&self, args.get(1).map(String::as_str)).await,
            Some("import-ts") => self.import_ts(&args[1..]),
            Some("lsp") => concord_lsp::run_stdio(self.specs()).map_err(|e| e.to_string()),
            Some("fmt") => {
                let check = args.iter().skip(1).any(|a| a == "--check");
                let dir = args
                    .iter()
                    .skip(1)
                    .find(|a| !a.starts_with("--"))
                    .map_or_else(|| self.syncs.clone(), PathBuf::from);
                format_syncs(&dir, check)
            }
            Some("expand") => match self.expand(args.get(1).map(String::as_str)) {
                Ok(text) if text.is_empty() => Err(match args.get(1) {
                    Some(name) => format!("no sync named `{name}`"),
                    None => "no sync uses `else` or a view".into(),
                }),
                Ok(text) => {
                    print!("{text}");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            },
            Some("help" | "--help" | "-h") => {
                println!(
                    "usage: {} [serve | check [DIR] | fmt [--check] [DIR] | lsp | routes | trace | why | graph | expand]",
                    std::env::args().next().unwrap_or_default()
                );
                println!("  serve         serve the app over HTTP (default); flags: --port, --host, --database-url,");
                println!("                --base-url, --timeout (ms), --allowed-origin, --max-body,");
                println!("                --header-timeout (ms), --body-timeout (ms), --max-connections, --dev");
                println!("  check [DIR]   check the syncs in DIR (default: the app's syncs) and exit");
                println!("  fmt [--check] [DIR]  rewrite the .sync files in the canonical layout (--check: list those");
                println!("                that differ and fail)");
                println!("  import-ts FILE.sync.ts... [--out DIR]  translate the TypeScript template's syncs into");
                println!("                .sync text (printed, or written to DIR) and check it");
                println!("  lsp           the language server for .sync files, on standard input and output");
                println!("  routes        list the request paths the syncs handle and who answers them;");
                println!("                --openapi: the API as an OpenAPI 3.1 document");
                println!("  trace [FLOW]  show a logged flow as a tree (without FLOW: recent flows)");
                println!("  why FLOW [SYNC]  which syncs came close to firing in a logged flow, and why they did not");
                println!("  graph [--svg] the sync graph: concepts, and syncs as edges (DOT, or SVG)");
                println!(
                    "  expand [SYNC] syncs written with `else` or views, as they run: views inlined, companions listed"
                );
                Ok(())
            }
            Some(other) => Err(format!("unknown command `{other}`; try `help`")),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn check_command(&self, dir: &Path) -> Result<(), String> {
        let report = self.check(dir).map_err(|e| e.to_string())?;
        eprint!("{}", report.rendered);
        if report.errors > 0 {
            return Err(format!("{}: the syncs have {} error(s)", dir.display(), report.errors));
        }
        eprintln!("{}: {} file(s) checked, no errors", dir.display(), report.files);
        Ok(())
    }

    /// The checked program without building an engine (for listings).
    pub(crate) fn program(&self) -> Result<concord_program::Program, LoadError> {
        let (checked, sources, _) = self.check_dir(&self.syncs)?;
        let rendered = render_all(&checked.diagnostics, &sources);
        checked.program.ok_or_else(|| LoadError::Check {
            errors: checked.diagnostics.iter().filter(|d| d.is_error()).count(),
            rendered,
        })
    }

    /// The shared `Requesting` concept every app has.
    pub fn requesting(&self) -> Arc<Requesting> {
        self.requesting.clone()
    }

    /// The syncs directory.
    pub fn syncs_dir(&self) -> &Path {
        &self.syncs
    }

    /// Opens passthrough routes listed in `file` (`Concept.action: why` per
    /// line). Without it, or without `passthrough.routes` beside the syncs
    /// directory, none are open.
    pub fn passthrough(mut self, file: impl Into<PathBuf>) -> Self {
        self.passthrough = Some(file.into());
        self
    }

    pub(crate) fn passthrough_routes(&self) -> Result<concord_http::Passthrough, String> {
        let file = match &self.passthrough {
            Some(f) => f.clone(),
            None => {
                let default = self.syncs.parent().unwrap_or(Path::new(".")).join("passthrough.routes");
                if !default.exists() {
                    return Ok(concord_http::Passthrough::default());
                }
                default
            }
        };
        let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        concord_http::Passthrough::parse(&file.display().to_string(), &text).map_err(|e| e.to_string())
    }

    /// The syncs written with shorthand — `else` clauses, views — (or the
    /// one named `name`, with or without its module) as the engine runs
    /// them: views inlined, each followed by its companions, as `.sync` text.
    pub fn expand(&self, name: Option<&str>) -> Result<String, LoadError> {
        let mut out = String::new();
        for (path, module, text) in read_sync_files(&self.syncs)? {
            let (ast, _) = concord_syntax::parse(concord_syntax::FileId(0), &text);
            for sync in &ast.syncs {
                let shorthand = !sync.otherwise.is_empty() || concord_syntax::expand::uses_views(sync);
                let full = if module.is_empty() {
                    sync.name.name.clone()
                } else {
                    format!("{module}.{}", sync.name.name)
                };
                let wanted = match name {
                    Some(n) => n == full || n == sync.name.name,
                    None => shorthand,
                };
                if wanted {
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(&format!("# {}\n", path.display()));
                    out.push_str(&concord_syntax::expand::render(sync, &ast.views));
                }
            }
        }
        Ok(out)
    }

    fn check_dir(&self, dir: &Path) -> Result<(concord_check::Checked, SourceMap, usize), LoadError> {
        check_syncs(dir, &self.builder.specs())
    }

    /// Watches the syncs directory and swaps in every edit that checks (see
    /// [`watch_syncs`]); for development.
    pub fn watcher(&self) -> (PathBuf, Vec<ConceptSpec>) {
        (self.syncs.clone(), self.builder.specs())
    }
}

/// Every `.sync` file under `dir`, in path order: (path, module, text).
fn read_sync_files(dir: &Path) -> Result<Vec<(PathBuf, String, String)>, LoadError> {
    let mut files = Vec::new();
    collect_sync_files(dir, dir, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|(path, module)| {
            let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            Ok((path, module, text))
        })
        .collect()
}

/// Reads and checks every `.sync` file under `dir` against `specs`.
pub(crate) fn check_syncs(
    dir: &Path,
    specs: &[ConceptSpec],
) -> Result<(concord_check::Checked, SourceMap, usize), LoadError> {
    let files = read_sync_files(dir)?;
    let count = files.len();
    let inputs = files
        .into_iter()
        .map(|(path, module, text)| concord_check::SourceText {
            name: path.display().to_string(),
            module,
            text,
        })
        .collect();
    let mut sources = SourceMap::new();
    let checked = concord_check::load(&mut sources, inputs, specs);
    Ok((checked, sources, count))
}

/// What the sync files look like from outside: paths, sizes, times.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let mut files = Vec::new();
    if collect_sync_files(dir, dir, &mut files).is_err() {
        return Vec::new();
    }
    let mut out: Vec<_> = files
        .into_iter()
        .map(|(path, _)| {
            let meta = std::fs::metadata(&path).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (path, len, modified)
        })
        .collect();
    out.sort();
    out
}

/// Hot reload: checks `dir` every `every`; when its `.sync` files change
/// and all of them check, the new syncs replace the old ones atomically
/// between flows (running flows finish with the set they started with);
/// when they do not check, the old syncs stay and the diagnostics are logged.
pub fn watch_syncs(
    engine: Engine,
    dir: PathBuf,
    specs: Vec<ConceptSpec>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    // Taken now, not in the task: an edit made right after this call counts.
    let mut seen = fingerprint(&dir);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = fingerprint(&dir);
            if now == seen {
                continue;
            }
            seen = now;
            match check_syncs(&dir, &specs) {
                Ok((checked, sources, _)) => {
                    let rendered = render_all(&checked.diagnostics, &sources);
                    match checked.program {
                        Some(program) => {
                            let n = program.all_syncs().len();
                            match engine.replace_program(program) {
                                Ok(()) => {
                                    tracing::info!(target: "concord::reload", "reloaded {n} sync(s) from {}", dir.display())
                                }
                                Err(e) => tracing::warn!(target: "concord::reload", "kept the previous syncs: {e}"),
                            }
                            if !rendered.is_empty() {
                                tracing::warn!(target: "concord::reload", "\n{rendered}");
                            }
                        }
                        None => tracing::warn!(target: "concord::reload", "kept the previous syncs:\n{rendered}"),
                    }
                }
                Err(e) => tracing::warn!(target: "concord::reload", "kept the previous syncs: {e}"),
            }
        }
    })
}

/// The embedded default database.
pub const DEFAULT_DATABASE: &str = "sqlite://data/concord.db";

/// Hides a password in a database URL before it is logged.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Applies the log policy's age and size limits once a minute (the
/// read-only window is kept by the store as it writes).
/// Renews this node's flow leases every third of `lease`, and takes over
/// (and finishes) other nodes' flows whose lease has expired.
fn spawn_lease_keeper(engine: Engine, store: std::sync::Arc<dyn concord_store::Backend>, lease: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let taking_over = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        loop {
            tick.tick().await;
            if let Err(e) = store.renew_leases().await {
                tracing::warn!(target: "concord::flow", "could not renew this node's flow leases: {e}");
            }
            // On its own task: finishing taken-over flows must not hold up
            // the next renewal; one takeover at a time.
            if let Ok(guard) = taking_over.clone().try_lock_owned() {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let resumed = engine.resume_interrupted(concord_store::Claim::Expired).await;
                    if !resumed.is_empty() {
                        tracing::info!(
                            target: "concord::flow",
                            "took over and finished {} flow(s) of a node that stopped",
                            resumed.len()
                        );
                    }
                    drop(guard);
                });
            }
        }
    });
}

fn spawn_retention(store: std::sync::Arc<dyn concord_store::Backend>, policy: concord_store::LogPolicy) {
    if policy.max_age.is_none() && policy.max_bytes.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let retention = concord_store::Retention {
                before: policy
                    .max_age
                    .map(|keep| concord_store::now_micros() - keep.as_micros() as i64),
                max_bytes: policy.max_bytes,
            };
            match store.prune(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(target: "concord::store", "retention: pruned {n} old log record(s)"),
                Err(e) => tracing::warn!(target: "concord::store", "retention: {e}"),
            }
        }
    });
}

/// `fmt [--check] [DIR]`: every `.sync` file under `dir` in the canonical
/// layout ([`concord_syntax::format`]); with `check`, only says which differ
/// (and fails if any does). A file that does not parse is named and left
/// alone (`check` shows why).
fn format_syncs(dir: &Path, check: bool) -> Result<(), String> {
    let mut files = Vec::new();
    collect_sync_files(dir, dir, &mut files).map_err(|e| e.to_string())?;
    files.sort();
    let (mut differ, mut broken) = (Vec::new(), Vec::new());
    for (path, _) in &files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        match concord_syntax::format::format(&text) {
            None => broken.push(path.display().to_string()),
            Some(formatted) if formatted == text => {}
            Some(_) if check => differ.push(path.display().to_string()),
            Some(formatted) => {
                std::fs::write(path, formatted).map_err(|e| format!("{}: {e}", path.display()))?;
                println!("formatted {}", path.display());
            }
        }
    }
    for path in &differ {
        println!("not formatted: {path}");
    }
    let mut problems = Vec::new();
    if !differ.is_empty() {
        problems.push(format!("{} file(s) not formatted (run `fmt`)", differ.len()));
    }
    if !broken.is_empty() {
        problems.push(format!("{} do(es) not parse (see `check`)", broken.join(", ")));
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}

/// Finds `*.sync` files under `dir`; the module path is the relative path
/// without extension, with dots (`api/users.sync` → `api.users`).
fn collect_sync_files(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_sync_files(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "sync") {
            let module = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(".");
            out.push((path, module));
        }
    }
    Ok(())
}

/// Sends logs and trace lines to standard error (standard output is for what commands print: `routes --openapi`, `trace`, `graph`). `CONCORD_LOG` filters them
/// (default `info`; e.g. `warn,concord::action=info`), and
/// `CONCORD_LOG_FORMAT=json` writes one JSON object per line.
pub fn init_tracing() {
    let filter: tracing_subscriber::filter::Targets = std::env::var("CONCORD_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| "info".parse().expect("a valid default filter"));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let json = std::env::var("CONCORD_LOG_FORMAT").is_ok_and(|f| f == "json");
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr))
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(std::io::stderr)
                    // Colour codes belong on a terminal, not in a log file.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            )
            .try_init()
    };
    // Already initialised (e.g. by a test harness): keep that subscriber.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_come_from_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("api")).unwrap();
        std::fs::write(dir.path().join("api/users.sync"), "").unwrap();
        std::fs::write(dir.path().join("auth.sync"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let mut files = Vec::new();
        collect_sync_files(dir.path(), dir.path(), &mut files).unwrap();
        files.sort();
        let modules: Vec<&str> = files.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(modules, ["api.users", "auth"]);
    }

    #[test]
    fn database_passwords_are_not_logged() {
        assert_eq!(
            redact_url("postgres://app:s3cret@localhost:5432/db"),
            "postgres://app:***@localhost:5432/db"
        );
        assert_eq!(redact_url("postgres://app@localhost/db"), "postgres://app@localhost/db");
        assert_eq!(redact_url("sqlite://data/concord.db"), "sqlite://data/concord.db");
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let err = App::new().check(Path::new("/nonexistent/syncs")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read /nonexistent/syncs"), "{err}");
    }
}
