//! The `--json` document of a matrix run (SPEC section 4), built from the engine API's answer
//! to `POST /api/matrix`: the CLI prints it and the MCP tool returns it, so both agree.

use serde_json::{json, Map, Value};
use vers_engine::matrix::CellResult;

/// `{"matrix":{key:[values]},"total_combinations","summary":{"passed","failed"},"results"}`,
/// with numeric matrix values as numbers (`postgres: [15, 16]`).
pub fn matrix_document(answer: &Value) -> Result<Value, String> {
    let results: Vec<CellResult> = serde_json::from_value(answer["results"].clone())
        .map_err(|e| format!("decoding the matrix results: {e}"))?;
    let manifest_matrix: Vec<(String, Vec<String>)> =
        serde_json::from_value(answer["matrix"].clone()).unwrap_or_default();
    let passed = results.iter().filter(|r| r.status == "passed").count();
    let mut cells = serde_json::to_value(&results).map_err(|e| e.to_string())?;
    for cell in cells.as_array_mut().into_iter().flatten() {
        if let Some(combo) = cell.get_mut("combination").and_then(|c| c.as_object_mut()) {
            for v in combo.values_mut() {
                *v = matrix_value(v.as_str().unwrap_or_default());
            }
        }
    }
    let values: Map<String, Value> = manifest_matrix
        .iter()
        .map(|(k, vs)| (k.clone(), vs.iter().map(|v| matrix_value(v)).collect()))
        .collect();
    Ok(json!({
        "matrix": values,
        "total_combinations": results.len(),
        "summary": {"passed": passed, "failed": results.len() - passed},
        "results": cells,
    }))
}

/// A matrix value as JSON: a number when it is one (`15`), else a string (`7.2`, `latest`).
fn matrix_value(v: &str) -> Value {
    match v.parse::<u64>() {
        Ok(n) if n.to_string() == v => Value::from(n),
        _ => Value::from(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_the_spec_shape() {
        let answer = json!({
            "matrix": [["postgres", ["15", "16"]], ["redis", ["7.2"]]],
            "results": [
                {"combination": {"postgres": "15", "redis": "7.2"}, "status": "passed", "duration_ms": 5, "suites": []},
                {"combination": {"postgres": "16", "redis": "7.2"}, "status": "failed", "duration_ms": 6, "suites": []}
            ]
        });
        let doc = matrix_document(&answer).unwrap();
        assert_eq!(
            doc["matrix"],
            json!({"postgres": [15, 16], "redis": ["7.2"]})
        );
        assert_eq!(doc["total_combinations"], 2);
        assert_eq!(doc["summary"], json!({"passed": 1, "failed": 1}));
        assert_eq!(doc["results"][1]["combination"]["postgres"], 16);
    }
}
