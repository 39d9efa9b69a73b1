//! The SQL MariaDB runs for a service: `root` reachable from every host (at each start), and
//! the databases, users and grants of its config (once, at setup), with quoting.

use crate::CatalogError;

/// A MariaDB user from `config.users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    /// Account name; the account is `'name'@'%'`.
    pub name: String,
    /// Password, if any.
    pub password: Option<String>,
}

/// Privileges a simple grant list may name.
const PRIVILEGES: [&str; 18] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "INDEX",
    "ALTER",
    "REFERENCES",
    "TRIGGER",
    "EXECUTE",
    "EVENT",
    "CREATE VIEW",
    "SHOW VIEW",
    "LOCK TABLES",
    "CREATE TEMPORARY TABLES",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
];

/// One manifest grant entry, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    /// `ALL`: every privilege on each database of the config (on `*.*` when it lists none).
    All,
    /// Privileges (`[SELECT, INSERT]`) on each database of the config.
    Privileges(Vec<String>),
    /// A full clause such as `SELECT ON app.orders`, granted as written.
    Clause(String),
}

/// Backquotes an identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Single-quotes a string literal (backslashes are escapes in MariaDB's default SQL mode).
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
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
    match words.iter().find(|w| !PRIVILEGES.contains(&w.as_str())) {
        Some(bad) => Err(CatalogError::config(
            service,
            key,
            format!(
                "unknown privilege `{bad}`: use ALL, {}, or a full clause such as `SELECT ON app.orders`",
                PRIVILEGES.join(", ")
            ),
        )),
        None if words.is_empty() => Err(CatalogError::config(service, key, "empty grant")),
        None => Ok(Grant::Privileges(words)),
    }
}

/// Statements run at every start (`--init-file`, one per line): `root` without a password
/// from every host, as the official container images allow, so that other services and the
/// health probe can connect.
pub(crate) fn init_file() -> String {
    [
        "CREATE USER IF NOT EXISTS 'root'@'%';",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;",
    ]
    .join("\n")
        + "\n"
}

/// The setup script: databases, users with their passwords, and grants (idempotent).
pub(crate) fn setup(databases: &[String], users: &[(User, Vec<Grant>)]) -> String {
    let mut sql = String::new();
    for db in databases {
        sql.push_str(&format!("CREATE DATABASE IF NOT EXISTS {};\n", ident(db)));
    }
    for (user, grants) in users {
        let account = format!("{}@'%'", literal(&user.name));
        match &user.password {
            Some(pw) => {
                sql.push_str(&format!(
                    "CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {};\n",
                    literal(pw)
                ));
                sql.push_str(&format!(
                    "ALTER USER {account} IDENTIFIED BY {};\n",
                    literal(pw)
                ));
            }
            None => sql.push_str(&format!("CREATE USER IF NOT EXISTS {account};\n")),
        }
        let targets: Vec<String> = if databases.is_empty() {
            vec!["*.*".to_string()]
        } else {
            databases
                .iter()
                .map(|d| format!("{}.*", ident(d)))
                .collect()
        };
        for grant in grants {
            match grant {
                Grant::All => {
                    for t in &targets {
                        sql.push_str(&format!("GRANT ALL PRIVILEGES ON {t} TO {account};\n"));
                    }
                }
                Grant::Privileges(p) => {
                    for t in &targets {
                        sql.push_str(&format!("GRANT {} ON {t} TO {account};\n", p.join(", ")));
                    }
                }
                Grant::Clause(c) => sql.push_str(&format!("GRANT {c} TO {account};\n")),
            }
        }
    }
    sql.push_str("FLUSH PRIVILEGES;\n");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_literals() {
        assert_eq!(ident("we`ird"), "`we``ird`");
        assert_eq!(literal("it's \\ok"), "'it\\'s \\\\ok'");
    }

    #[test]
    fn parses_grant_forms() {
        assert_eq!(parse_grant("all", "db", "k").unwrap(), Grant::All);
        assert_eq!(
            parse_grant("select, insert", "db", "k").unwrap(),
            Grant::Privileges(vec!["SELECT".into(), "INSERT".into()])
        );
        assert_eq!(
            parse_grant("SELECT ON app.orders", "db", "k").unwrap(),
            Grant::Clause("SELECT ON app.orders".into())
        );
        let err = parse_grant("fly", "db", "users[0].grants[0]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("users[0].grants[0]") && err.contains("FLY"),
            "{err}"
        );
    }

    #[test]
    fn setup_creates_databases_users_and_grants_idempotently() {
        let user = User {
            name: "app".into(),
            password: Some("pw".into()),
        };
        let sql = setup(&["shop".into()], &[(user, vec![Grant::All])]);
        assert!(
            sql.contains("CREATE DATABASE IF NOT EXISTS `shop`;"),
            "{sql}"
        );
        assert!(
            sql.contains("CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'pw';"),
            "{sql}"
        );
        assert!(
            sql.contains("GRANT ALL PRIVILEGES ON `shop`.* TO 'app'@'%';"),
            "{sql}"
        );
    }
}
