//! `upkeep state copy`: an installation's SQLite state copied into an empty PostgreSQL
//! database, every table and row as it is (runs and their reports, servers, tag history, PRs,
//! reviews and decisions, the outbox with its attachments, caches), then verified by counting.
//!
//! Both sides must be at this build's schema version (the target is migrated first; an older
//! source is refused with the command that brings it up to date), and the target must be
//! empty: a copy never merges into a state that is already in use. The rows go in one
//! transaction, parents before the tables that reference them, so a failed copy leaves the
//! target as empty as it was. Identity columns continue after the highest id copied (or the
//! highest SQLite ever handed out), so a row created after the move never reuses an id a
//! report, email or audit line already names.

use anyhow::{Context as _, bail, ensure};

use super::db::{Conn, Exec, Value, params};

/// One table's rows on each side after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub table: String,
    pub source: i64,
    pub target: i64,
}

/// The tables of the SQLite state, parents first (a table after every table it references).
fn tables(source: &Conn) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = source.query_map(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        params![],
        |r| r.get(0),
    )?;
    let mut ordered: Vec<String> = Vec::new();
    for name in &names {
        visit(source, name, &mut ordered, 0)?;
    }
    Ok(ordered)
}

fn visit(
    source: &Conn,
    table: &str,
    ordered: &mut Vec<String>,
    depth: usize,
) -> anyhow::Result<()> {
    ensure!(
        depth < 32,
        "the state's foreign keys form a cycle at {table}"
    );
    if ordered.iter().any(|t| t == table) {
        return Ok(());
    }
    let parents: Vec<String> = source.query_map(
        "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)",
        params![table],
        |r| r.get(0),
    )?;
    for parent in parents.iter().filter(|p| p.as_str() != table) {
        visit(source, parent, ordered, depth + 1)?;
    }
    ordered.push(table.to_string());
    Ok(())
}

fn columns(source: &Conn, table: &str) -> anyhow::Result<Vec<String>> {
    Ok(source.query_map(
        "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        params![table],
        |r| r.get(0),
    )?)
}

/// Table and column names come from the state's own schema, never from input; quoting them
/// anyway keeps a reserved word (`trigger`) a name on both sides.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn count(db: &impl Exec, table: &str) -> anyhow::Result<i64> {
    Ok(db.query_row(
        &format!("SELECT COUNT(*) FROM {}", quoted(table)),
        params![],
        |r| r.get(0),
    )?)
}

/// Copy every row of `source` (SQLite) into `target` (PostgreSQL, migrated to the same schema
/// version and empty), then count both sides.
///
/// # Errors
/// When the target is not empty, a table is missing on the target, or any statement fails (the
/// target is then left as it was).
pub fn copy(source: &Conn, target: &mut Conn) -> anyhow::Result<Vec<Counted>> {
    let tables = tables(source)?;
    let used: Vec<String> = tables
        .iter()
        .map(|t| count(target, t).map(|n| (t, n)))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("reading the target (is it migrated to this upkeep's schema?)")?
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t} ({n} rows)"))
        .collect();
    if !used.is_empty() {
        bail!(
            "the target database is not empty: {}; a copy goes only into an empty database",
            used.join(", ")
        );
    }
    let tx = target.transaction()?;
    for table in &tables {
        copy_table(source, &tx, table).with_context(|| format!("copying {table}"))?;
    }
    continue_identities(source, &tx, &tables)?;
    tx.commit()?;
    tables
        .iter()
        .map(|t| {
            Ok(Counted {
                table: t.clone(),
                source: count(source, t)?,
                target: count(target, t)?,
            })
        })
        .collect()
}

fn copy_table(source: &Conn, target: &impl Exec, table: &str) -> anyhow::Result<()> {
    let cols = columns(source, table)?;
    let list = cols
        .iter()
        .map(|c| quoted(c))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = (1..=cols.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!("INSERT INTO {}({list}) VALUES ({marks})", quoted(table));
    let rows: Vec<Vec<Value>> = source.query_map(
        &format!("SELECT {list} FROM {}", quoted(table)),
        params![],
        |r| Ok(r.clone().into_values()),
    )?;
    for row in rows {
        target.execute(&insert, row)?;
    }
    Ok(())
}

/// Every identity column continues after the highest id SQLite handed out for its table.
fn continue_identities(source: &Conn, target: &impl Exec, tables: &[String]) -> anyhow::Result<()> {
    let handed_out: Vec<(String, i64)> =
        source.query_map("SELECT name, seq FROM sqlite_sequence", params![], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    for (table, seq) in handed_out {
        if !tables.contains(&table) {
            continue;
        }
        let next = seq.max(max_id(source, &table)?) + 1;
        target.query_row(
            "SELECT setval(pg_get_serial_sequence(?1, 'id'), ?2, false)",
            params![quoted(&table), next],
            |_| Ok(()),
        )?;
    }
    Ok(())
}

fn max_id(db: &impl Exec, table: &str) -> anyhow::Result<i64> {
    Ok(db.query_row(
        &format!("SELECT COALESCE(MAX(id), 0) FROM {}", quoted(table)),
        params![],
        |r| r.get(0),
    )?)
}
