//! Routing: which handler answers a method and path, and the errors for paths no handler
//! serves (unknown, or known to Elasticsearch but not served by vers search).

use super::{
    aliases, bulk, cat, cluster, documents, indices, searching, App, Method, Reply, Request,
};
use crate::error::EsError;

fn no_handler(req: &Request) -> EsError {
    EsError::new(
        400,
        "illegal_argument_exception",
        format!(
            "no handler found for uri [{}] and method [{}]",
            req.path,
            req.method.name()
        ),
    )
}

fn wrong_method(req: &Request, allowed: &[Method]) -> EsError {
    let names: Vec<&str> = allowed.iter().map(|m| m.name()).collect();
    EsError::new(
        405,
        "method_not_allowed",
        format!(
            "Incorrect HTTP method for uri [{}] and method [{}], allowed: [{}]",
            req.path,
            req.method.name(),
            names.join(", ")
        ),
    )
}

fn allow(req: &Request, allowed: &[Method]) -> Result<(), EsError> {
    if allowed.contains(&req.method) {
        Ok(())
    } else {
        Err(wrong_method(req, allowed))
    }
}

use Method::{Delete, Get, Head, Post, Put};

/// Endpoints of Elasticsearch that vers search does not serve.
const UNSERVED: &[&str] = &[
    "_index_template",
    "_template",
    "_component_template",
    "_ingest",
    "_snapshot",
    "_update_by_query",
    "_tasks",
    "_pit",
    "_open",
    "_close",
    "_shrink",
    "_split",
    "_clone",
    "_rollover",
    "_forcemerge",
    "_ilm",
    "_security",
    "_license",
    "_xpack",
    "_sql",
    "_eql",
    "_async_search",
    "_field_caps",
    "_termvectors",
    "_mtermvectors",
    "_explain",
    "_validate",
    "_rank_eval",
    "_search_shards",
    "_data_stream",
    "_resolve",
    "_block",
    "_cache",
    "_segments",
    "_recovery",
    "_shard_stores",
    "_upgrade",
    "_freeze",
    "_unfreeze",
    "_transform",
    "_ml",
    "_rollup",
    "_ccr",
    "_enrich",
    "_graph",
    "_watcher",
    "_monitoring",
    "_autoscaling",
    "_searchable_snapshots",
    "_slm",
    "_render",
    "_knn_search",
    "_terms_enum",
    "_disk_usage",
    "_query",
];

/// Routes a request to its handler.
pub fn route(app: &App, req: &Request) -> Result<Reply, EsError> {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    if let Some(unserved) = seg.iter().find(|s| UNSERVED.contains(s)) {
        return Err(EsError::unsupported(format!(
            "the [{unserved}] API ({} {})",
            req.method.name(),
            req.path
        )));
    }
    match seg.as_slice() {
        [] => {
            allow(req, &[Get, Head])?;
            Ok(Reply::ok(app.flavor.root(
                &app.node_name,
                &app.cluster_name,
                &app.cluster_uuid,
            )))
        }
        ["_cluster", "health"] => {
            allow(req, &[Get])?;
            cluster::health(app, req, None)
        }
        ["_cluster", "health", index] => {
            allow(req, &[Get])?;
            cluster::health(app, req, Some(index))
        }
        ["_cat", what] | ["_cat", what, _] => {
            allow(req, &[Get])?;
            let index = seg.get(2).copied();
            match *what {
                "indices" => cat::indices(app, req, index),
                "health" => cat::health(app, req),
                "count" => cat::count(app, req, index),
                "aliases" => cat::aliases(app, req, index),
                other => Err(EsError::unsupported(format!("[_cat/{other}]"))),
            }
        }
        ["_aliases"] => match req.method {
            Post => aliases::update(app, req),
            Get => aliases::get(app, req, None, None),
            _ => Err(wrong_method(req, &[Get, Post])),
        },
        ["_alias"] => {
            allow(req, &[Get, Head])?;
            aliases::get(app, req, None, None)
        }
        ["_alias", name] => {
            allow(req, &[Get, Head])?;
            aliases::get(app, req, None, Some(name))
        }
        [index, "_alias"] | [index, "_aliases"] => {
            allow(req, &[Get, Head])?;
            aliases::get(app, req, Some(index), None)
        }
        [index, "_alias", name] | [index, "_aliases", name] => match req.method {
            Get | Head => aliases::get(app, req, Some(index), Some(name)),
            Put | Post => aliases::put(app, req, index, name),
            Delete => aliases::delete(app, req, index, name),
            _ => Err(wrong_method(req, &[Get, Head, Put, Post, Delete])),
        },
        ["_reindex"] => {
            allow(req, &[Post])?;
            searching::reindex(app, req)
        }
        ["_msearch"] => {
            allow(req, &[Get, Post])?;
            searching::msearch(app, req, None)
        }
        [index, "_msearch"] => {
            allow(req, &[Get, Post])?;
            searching::msearch(app, req, Some(index))
        }
        ["_bulk"] => {
            allow(req, &[Post, Put])?;
            bulk::bulk(app, req, None)
        }
        [index, "_bulk"] => {
            allow(req, &[Post, Put])?;
            bulk::bulk(app, req, Some(index))
        }
        ["_search", "scroll"] | ["_search", "scroll", _] => {
            let id = seg.get(2).copied();
            match req.method {
                Get | Post => searching::scroll(app, req, id),
                Delete => searching::clear_scroll(app, req, id),
                _ => Err(wrong_method(req, &[Get, Post, Delete])),
            }
        }
        ["_search"] => {
            allow(req, &[Get, Post])?;
            searching::search(app, req, "_all")
        }
        [index, "_search"] => {
            allow(req, &[Get, Post])?;
            searching::search(app, req, index)
        }
        ["_count"] => {
            allow(req, &[Get, Post])?;
            searching::count(app, req, "_all")
        }
        [index, "_count"] => {
            allow(req, &[Get, Post])?;
            searching::count(app, req, index)
        }
        [index, "_delete_by_query"] => {
            allow(req, &[Post])?;
            searching::delete_by_query(app, req, index)
        }
        ["_refresh"] | ["_flush"] => {
            allow(req, &[Get, Post])?;
            indices::refresh(app, req, "_all")
        }
        [index, "_refresh"] | [index, "_flush"] => {
            allow(req, &[Get, Post])?;
            indices::refresh(app, req, index)
        }
        ["_mget"] => {
            allow(req, &[Get, Post])?;
            documents::mget(app, req, None)
        }
        [index, "_mget"] => {
            allow(req, &[Get, Post])?;
            documents::mget(app, req, Some(index))
        }
        ["_analyze"] => {
            allow(req, &[Get, Post])?;
            indices::analyze(app, req, None)
        }
        [index, "_analyze"] => {
            allow(req, &[Get, Post])?;
            indices::analyze(app, req, Some(index))
        }
        ["_mapping"] | ["_mappings"] => {
            allow(req, &[Get])?;
            indices::get_mapping(app, req, "_all")
        }
        [index, "_mapping"] | [index, "_mappings"] => match req.method {
            Get => indices::get_mapping(app, req, index),
            Put | Post => indices::put_mapping(app, req, index),
            _ => Err(wrong_method(req, &[Get, Put, Post])),
        },
        ["_settings"] => {
            allow(req, &[Get])?;
            indices::get_settings(app, req, "_all")
        }
        [index, "_settings"] => match req.method {
            Get => indices::get_settings(app, req, index),
            Put => indices::put_settings(app, req, index),
            _ => Err(wrong_method(req, &[Get, Put])),
        },
        [index, "_doc"] => {
            allow(req, &[Post])?;
            documents::index(app, req, index, None, false)
        }
        [index, "_doc", id] => match req.method {
            Put | Post => documents::index(app, req, index, Some(id), false),
            Get | Head => documents::get(app, req, index, id, false),
            Delete => documents::delete(app, req, index, id),
            _ => Err(wrong_method(req, &[Get, Head, Put, Post, Delete])),
        },
        [index, "_create", id] => {
            allow(req, &[Put, Post])?;
            documents::index(app, req, index, Some(id), true)
        }
        [index, "_update", id] => {
            allow(req, &[Post])?;
            documents::update(app, req, index, id)
        }
        [index, "_source", id] => {
            allow(req, &[Get, Head])?;
            documents::get(app, req, index, id, true)
        }
        [index] if !index.starts_with('_') => match req.method {
            Put => indices::create(app, req, index),
            Delete => indices::delete(app, req, index),
            Get => indices::get(app, req, index),
            Head => indices::exists(app, req, index),
            _ => Err(wrong_method(req, &[Get, Head, Put, Delete])),
        },
        _ => Err(no_handler(req)),
    }
}
