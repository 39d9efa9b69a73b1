//! The tantivy version vers reports in its stand-in label is the one it is built with.

#[test]
fn labels_name_the_tantivy_in_cargo_lock() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
        .expect("Cargo.lock at the workspace root");
    let locked = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"tantivy\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("tantivy in Cargo.lock");
    assert_eq!(vers_search::TANTIVY_VERSION, locked);
    assert_eq!(vers_catalog::SEARCH_TANTIVY_VERSION, locked);
}
