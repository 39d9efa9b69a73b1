//! The SQL that `setup` runs: databases, roles, extensions and grants, with quoting.

use crate::CatalogError;

/// A PostgreSQL user from `config.users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    /// Role name.
    pub name: String,
    /// Login password, if any (such users authenticate with it; others are trusted).
    pub password: Option<String>,
    /// Grant entries as written in the manifest.
    pub grants: Vec<String>,
}

/// Table privileges a simple grant list may name.
const TABLE_PRIVILEGES: [&str; 7] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
];

/// One manifest grant entry, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    /// `ALL`: every privilege on each database, its `public` schema, tables and sequences.
    All,
    /// Table privileges (`[SELECT, INSERT]`) on every table of each database's `public` schema.
    Tables(Vec<String>),
    /// A full clause such as `ALL ON DATABASE app` or `SELECT ON orders`, granted as written.
    Clause(String),
}

/// Double-quotes an identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Single-quotes a string literal (standard_conforming_strings is on by default).
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Parses one grant entry; `key` names it in errors.
pub(crate) fn parse_grant(entry: &str, service: &str, key: &str) -> Result<Grant, CatalogError> {
    let upper = entry.trim().to_ascii_uppercase();
    if upper.contains(" ON ") {
        return Ok(Grant::Clause(entry.trim().to_string()));
    }
    let words: Vec<String> = upper
        .split(',')
        .map(|w| w.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| w == "ALL" || w == "ALL PRIVILEGES") {
        return Ok(Grant::All);
    }
    match words.iter().find(|w| !TABLE_PRIVILEGES.contains(&w.as_str())) {
        Some(bad) => Err(CatalogError::config(
            service,
            key,
            format!("unknown privilege `{bad}`: use ALL, {}, or a full clause such as `ALL ON DATABASE app`", TABLE_PRIVILEGES.join(", ")),
        )),
        None if words.is_empty() => Err(CatalogError::config(service, key, "empty grant")),
        None => Ok(Grant::Tables(words)),
    }
}

/// Statements run against `postgres`: create missing databases and roles, set passwords.
pub(crate) fn roles_and_databases(databases: &[String], users: &[User]) -> String {
    let mut sql = String::new();
    for db in databases {
        sql.push_str(&format!(
            "SELECT format('CREATE DATABASE %I', {lit}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {lit})\\gexec\n",
            lit = literal(db)
        ));
    }
    for user in users {
        sql.push_str(&format!(
            "SELECT format('CREATE ROLE %I', {lit}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {lit})\\gexec\n",
            lit = literal(&user.name)
        ));
        match &user.password {
            Some(p) => sql.push_str(&format!(
                "ALTER ROLE {} WITH LOGIN PASSWORD {};\n",
                ident(&user.name),
                literal(p)
            )),
            None => sql.push_str(&format!("ALTER ROLE {} WITH LOGIN;\n", ident(&user.name))),
        }
    }
    sql
}

/// Statements run inside database `db`: extensions, then the users' simple grants on it.
pub(crate) fn per_database(db: &str, extensions: &[String], grants: &[(String, Grant)]) -> String {
    let mut sql = String::new();
    for ext in extensions {
        sql.push_str(&format!("CREATE EXTENSION IF NOT EXISTS {};\n", ident(ext)));
    }
    for (user, grant) in grants {
        let u = ident(user);
        let d = ident(db);
        match grant {
            Grant::All => {
                sql.push_str(&format!("GRANT ALL PRIVILEGES ON DATABASE {d} TO {u};\n"));
                sql.push_str(&format!("GRANT ALL ON SCHEMA public TO {u};\n"));
                table_grants(&mut sql, "ALL", "ALL", &u);
            }
            Grant::Tables(privs) => {
                let list = privs.join(", ");
                sql.push_str(&format!(
                    "GRANT CONNECT, TEMPORARY ON DATABASE {d} TO {u};\n"
                ));
                sql.push_str(&format!("GRANT USAGE ON SCHEMA public TO {u};\n"));
                let writes = privs.iter().any(|p| p == "INSERT" || p == "UPDATE");
                let seq = if writes { "USAGE, SELECT" } else { "SELECT" };
                table_grants(&mut sql, &list, seq, &u);
            }
            Grant::Clause(_) => {}
        }
    }
    sql
}

/// Grants on existing tables and sequences of `public`, and default privileges for future ones
/// (created by `postgres`, e.g. by init scripts).
fn table_grants(sql: &mut String, tables: &str, sequences: &str, user: &str) {
    sql.push_str(&format!(
        "GRANT {tables} ON ALL TABLES IN SCHEMA public TO {user};\n"
    ));
    sql.push_str(&format!(
        "GRANT {sequences} ON ALL SEQUENCES IN SCHEMA public TO {user};\n"
    ));
    sql.push_str(&format!(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {tables} ON TABLES TO {user};\n"
    ));
    sql.push_str(&format!(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {sequences} ON SEQUENCES TO {user};\n"
    ));
}

/// Statements granting full clauses, run in the first database.
pub(crate) fn clauses(grants: &[(String, Grant)]) -> String {
    grants
        .iter()
        .filter_map(|(user, g)| match g {
            Grant::Clause(c) => Some(format!("GRANT {c} TO {};\n", ident(user))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_literals() {
        assert_eq!(ident("uuid-ossp"), "\"uuid-ossp\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn parses_grant_forms() {
        assert_eq!(parse_grant("ALL", "db", "k").unwrap(), Grant::All);
        assert_eq!(
            parse_grant("all privileges", "db", "k").unwrap(),
            Grant::All
        );
        assert_eq!(
            parse_grant("select, insert", "db", "k").unwrap(),
            Grant::Tables(vec!["SELECT".into(), "INSERT".into()])
        );
        assert_eq!(
            parse_grant("ALL ON DATABASE app", "db", "k").unwrap(),
            Grant::Clause("ALL ON DATABASE app".into())
        );
        let err = parse_grant("DROP", "db", "users[0].grants[0]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("users[0].grants[0]") && err.contains("DROP"),
            "{err}"
        );
    }

    #[test]
    fn creates_missing_databases_and_roles_idempotently() {
        let sql = roles_and_databases(
            &["app".into()],
            &[User {
                name: "reader".into(),
                password: Some("pw".into()),
                grants: vec![],
            }],
        );
        assert!(sql.contains("WHERE datname = 'app')\\gexec"), "{sql}");
        assert!(
            sql.contains("ALTER ROLE \"reader\" WITH LOGIN PASSWORD 'pw';"),
            "{sql}"
        );
    }
}
