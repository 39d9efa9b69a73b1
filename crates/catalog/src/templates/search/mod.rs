//! `elasticsearch@7`, `elasticsearch@8` and `opensearch@2`.
//!
//! The real engine serves the template when the machine has it (`VERS_ENGINE_ELASTICSEARCH`
//! / `VERS_ENGINE_OPENSEARCH`, or the launcher on `PATH`) at the requested major; no registry
//! this machine reaches ships one, so otherwise the built-in vers search serves it (the
//! `vers-search` crate: Elasticsearch's REST API subset over tantivy), labelled as a
//! stand-in. Indices of `config.indices` are created at setup through the REST API, whichever
//! serves. Both keep their state in the data directory: Elasticsearch with its translog
//! synced per request, vers search with its own write-ahead log synced before each write is
//! acknowledged, so a frozen copy of the directory holds every acknowledged document;
//! `quiesce` flushes so that branches start without a log to replay.

mod config;
mod discovery;
mod launch;

use std::collections::BTreeMap;

use crate::binaries::version_matches;
use crate::templates::mocks::builtin;
use crate::{
    CatalogError, EngineBinary, Exec, InstanceCtx, Launch, MissingEngine, Probe, StandIn, Template,
};

/// The standard HTTP port.
pub(crate) const PORT: u16 = 9200;

/// The tantivy version the built-in vers search is compiled with; `crates/search` tests check
/// it against `Cargo.lock`.
pub const TANTIVY_VERSION: &str = "0.27.0";

/// Which product a template serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Product {
    /// Elasticsearch.
    Elasticsearch,
    /// OpenSearch.
    OpenSearch,
}

impl Product {
    /// The template name.
    pub fn template(self) -> &'static str {
        match self {
            Product::Elasticsearch => "elasticsearch",
            Product::OpenSearch => "opensearch",
        }
    }

    /// The launcher script's name.
    pub fn binary(self) -> &'static str {
        self.template()
    }

    /// The product's name in prose.
    pub fn display(self) -> &'static str {
        match self {
            Product::Elasticsearch => "Elasticsearch",
            Product::OpenSearch => "OpenSearch",
        }
    }

    /// The variable naming a real install.
    pub fn env_var(self) -> &'static str {
        match self {
            Product::Elasticsearch => "VERS_ENGINE_ELASTICSEARCH",
            Product::OpenSearch => "VERS_ENGINE_OPENSEARCH",
        }
    }

    fn majors(self) -> &'static [&'static str] {
        match self {
            Product::Elasticsearch => &["7", "8"],
            Product::OpenSearch => &["2"],
        }
    }

    fn default_major(self) -> &'static str {
        match self {
            Product::Elasticsearch => "8",
            Product::OpenSearch => "2",
        }
    }

    /// The version vers search reports for `major` (as the real server of that major would).
    fn builtin_version(self, major: &str) -> &'static str {
        match (self, major) {
            (Product::Elasticsearch, "7") => "7.17.25",
            (Product::Elasticsearch, _) => "8.15.0",
            (Product::OpenSearch, _) => "2.17.0",
        }
    }
}

/// An `elasticsearch` or `opensearch` template.
pub(crate) struct Search(pub Product);

/// The built-in engine of `product` at `major`, labelled as a stand-in.
pub(crate) fn stand_in(product: Product, major: &str) -> EngineBinary {
    let mut engine = builtin(product.template());
    let vers_version = engine.version.clone();
    engine.version = product.builtin_version(major).to_string();
    engine.major = major.to_string();
    engine.stand_in = Some(StandIn {
        implementation: format!("vers search {vers_version} (tantivy {TANTIVY_VERSION})"),
        note: format!(
            "{p} {major} REST API subset (indices, aliases, mappings, documents, _bulk, _search with the common query DSL, aggregations and the completion suggester); not {p}: one shard per index, no scripts, nested/geo/vector fields, index templates, ingest pipelines or point in time; at most 64 text fields per index; BM25 scores come from tantivy and can differ slightly from Lucene's",
            p = product.display()
        ),
    });
    engine
}

impl Template for Search {
    fn name(&self) -> &'static str {
        self.0.template()
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        let major = version.unwrap_or(self.0.default_major());
        if !self.0.majors().contains(&major) {
            return Err(MissingEngine {
                template: self.0.template().into(),
                version: Some(major.to_string()),
                hint: format!(
                    "vers serves {}@{} (install {} {major} and point {} at it to use that version)",
                    self.0.template(),
                    self.0.majors().join(", @"),
                    self.0.display(),
                    self.0.env_var()
                ),
            });
        }
        if let Some(real) =
            discovery::installed(self.0).filter(|e| version_matches(&e.version, major))
        {
            return Ok(real);
        }
        Ok(stand_in(self.0, major))
    }

    fn init_data(
        &self,
        _ctx: &InstanceCtx,
        _engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        // Fail early on a bad index list, before anything starts.
        config::indices(ctx)?;
        if engine.stand_in.is_some() {
            launch::builtin(ctx, engine, self.0)
        } else {
            launch::real(ctx, engine, self.0)
        }
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Http {
            port: ctx.port(0, PORT),
            path: "/_cluster/health".into(),
            headers: Vec::new(),
        }
    }

    fn setup(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        let base = format!("http://{}:{}", ctx.listen, ctx.port(0, PORT));
        Ok(config::indices(ctx)?
            .into_iter()
            .map(|index| {
                Exec::new(
                    "curl",
                    [
                        "-sS".to_string(),
                        "--fail-with-body".into(),
                        "--max-time".into(),
                        "60".into(),
                        "-X".into(),
                        "PUT".into(),
                        "-H".into(),
                        "Content-Type: application/json".into(),
                        "--data-binary".into(),
                        index.body.to_string(),
                        format!("{base}/{}", index.name),
                    ],
                )
            })
            .collect())
    }

    fn quiesce(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        vec![Exec::new(
            "curl",
            [
                "-sS".to_string(),
                "--fail-with-body".into(),
                "--max-time".into(),
                "60".into(),
                "-X".into(),
                "POST".into(),
                format!("http://{}:{}/_flush", ctx.listen, ctx.port(0, PORT)),
            ],
        )]
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        let url = format!("http://{}:{}", ctx.public_name, ctx.port(0, PORT));
        let key = match self.0 {
            Product::Elasticsearch => "ELASTICSEARCH_URL",
            Product::OpenSearch => "OPENSEARCH_URL",
        };
        BTreeMap::from([(key.to_string(), url)])
    }

    fn http_ports(&self, ctx: &InstanceCtx) -> Vec<u16> {
        vec![ctx.port(0, PORT)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_in_reports_the_requested_major_and_says_what_it_is() {
        let e = Search(Product::Elasticsearch).engine(Some("7")).unwrap();
        assert_eq!(e.major, "7");
        if let Some(s) = &e.stand_in {
            assert!(e.version.starts_with("7.17."));
            assert!(
                s.implementation.starts_with("vers search ")
                    && s.implementation.contains("tantivy 0.27")
            );
            assert!(s.note.contains("not Elasticsearch"));
        }
        assert!(Search(Product::Elasticsearch).engine(Some("6")).is_err());
        let os = Search(Product::OpenSearch).engine(None).unwrap();
        assert_eq!(os.major, "2");
    }
}
