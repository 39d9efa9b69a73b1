//! Which server the stand-in presents itself as: Elasticsearch 7 or 8, or OpenSearch 2. The
//! flavor decides the version the root endpoint reports, the product header, the media types
//! the server accepts and the few response fields that differ between majors.

use serde_json::{json, Value};

/// The product and major version the server answers as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Elasticsearch 7.17.
    Elasticsearch7,
    /// Elasticsearch 8.
    Elasticsearch8,
    /// OpenSearch 2.
    OpenSearch2,
}

impl Flavor {
    /// The flavor of `product` (`elasticsearch` or `opensearch`) at major `major`.
    pub fn from_product(product: &str, major: &str) -> Result<Flavor, String> {
        match (product, major) {
            ("elasticsearch", "7") => Ok(Flavor::Elasticsearch7),
            ("elasticsearch", "8") => Ok(Flavor::Elasticsearch8),
            ("opensearch", "2") => Ok(Flavor::OpenSearch2),
            _ => Err(format!(
                "vers search serves elasticsearch 7 and 8 and opensearch 2, not {product} {major}"
            )),
        }
    }

    /// The version number the root endpoint reports.
    pub fn version_number(self) -> &'static str {
        match self {
            Flavor::Elasticsearch7 => "7.17.25",
            Flavor::Elasticsearch8 => "8.15.0",
            Flavor::OpenSearch2 => "2.17.0",
        }
    }

    /// Whether this is an Elasticsearch (not OpenSearch) flavor, which sends the
    /// `X-Elastic-Product` header the official clients check.
    pub fn is_elasticsearch(self) -> bool {
        !matches!(self, Flavor::OpenSearch2)
    }

    /// Whether document responses carry the `_type: _doc` field (Elasticsearch 7).
    pub fn has_types(self) -> bool {
        matches!(self, Flavor::Elasticsearch7)
    }

    /// The `compatible-with` versions of the vendor media types this flavor accepts:
    /// Elasticsearch 8 accepts 7 and 8, Elasticsearch 7 only 7, OpenSearch none.
    pub fn accepts_compat(self, version: u8) -> bool {
        match self {
            Flavor::Elasticsearch7 => version == 7,
            Flavor::Elasticsearch8 => version == 7 || version == 8,
            Flavor::OpenSearch2 => false,
        }
    }

    /// The `index.version.created` setting value of new indices.
    pub fn index_version_created(self) -> &'static str {
        match self {
            Flavor::Elasticsearch7 => "7172599",
            Flavor::Elasticsearch8 => "8512000",
            Flavor::OpenSearch2 => "136387827",
        }
    }

    /// The body of `GET /`.
    pub fn root(self, node_name: &str, cluster_name: &str, cluster_uuid: &str) -> Value {
        match self {
            Flavor::Elasticsearch7 => json!({
                "name": node_name,
                "cluster_name": cluster_name,
                "cluster_uuid": cluster_uuid,
                "version": {
                    "number": self.version_number(),
                    "build_flavor": "default",
                    "build_type": "tar",
                    "build_hash": "0000000000000000000000000000000000000000",
                    "build_date": "2024-10-31T22:13:57.512575143Z",
                    "build_snapshot": false,
                    "lucene_version": "8.11.3",
                    "minimum_wire_compatibility_version": "6.8.0",
                    "minimum_index_compatibility_version": "6.0.0-beta1"
                },
                "tagline": "You Know, for Search"
            }),
            Flavor::Elasticsearch8 => json!({
                "name": node_name,
                "cluster_name": cluster_name,
                "cluster_uuid": cluster_uuid,
                "version": {
                    "number": self.version_number(),
                    "build_flavor": "default",
                    "build_type": "tar",
                    "build_hash": "0000000000000000000000000000000000000000",
                    "build_date": "2024-08-05T10:05:34.233336849Z",
                    "build_snapshot": false,
                    "lucene_version": "9.11.1",
                    "minimum_wire_compatibility_version": "7.17.0",
                    "minimum_index_compatibility_version": "7.0.0"
                },
                "tagline": "You Know, for Search"
            }),
            Flavor::OpenSearch2 => json!({
                "name": node_name,
                "cluster_name": cluster_name,
                "cluster_uuid": cluster_uuid,
                "version": {
                    "distribution": "opensearch",
                    "number": self.version_number(),
                    "build_type": "tar",
                    "build_hash": "0000000000000000000000000000000000000000",
                    "build_date": "2024-09-13T00:19:44.263541Z",
                    "build_snapshot": false,
                    "lucene_version": "9.11.1",
                    "minimum_wire_compatibility_version": "7.10.0",
                    "minimum_index_compatibility_version": "7.0.0"
                },
                "tagline": "The OpenSearch Project: https://opensearch.org/"
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_report_their_versions_and_products() {
        let es7 = Flavor::from_product("elasticsearch", "7").unwrap();
        assert!(es7.version_number().starts_with("7.17."));
        assert!(es7.has_types());
        assert!(es7.accepts_compat(7) && !es7.accepts_compat(8));
        let es8 = Flavor::from_product("elasticsearch", "8").unwrap();
        assert!(es8.version_number().starts_with("8."));
        assert!(es8.accepts_compat(7) && es8.accepts_compat(8));
        let os = Flavor::from_product("opensearch", "2").unwrap();
        assert_eq!(
            os.root("n", "c", "u")["version"]["distribution"],
            "opensearch"
        );
        assert!(!os.is_elasticsearch());
        assert!(Flavor::from_product("elasticsearch", "6").is_err());
    }
}
