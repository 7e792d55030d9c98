//! Small helpers that keep table definitions short and portable.

use sea_orm_migration::prelude::*;

pub fn id(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).big_integer().not_null().auto_increment().primary_key().take()
}

pub fn s(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).string_len(len).not_null().take()
}

pub fn s_default(name: &str, len: u32, default: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).string_len(len).not_null().default(default).take()
}

pub fn s_null(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).string_len(len).null().take()
}

pub fn text_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).text().null().take()
}

pub fn text(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).text().not_null().take()
}

pub fn big(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).big_integer().not_null().take()
}

pub fn big_default(name: &str, default: i64) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).big_integer().not_null().default(default).take()
}

pub fn big_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).big_integer().null().take()
}

pub fn int(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).integer().not_null().take()
}

pub fn int_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).integer().null().take()
}

pub fn boolean(name: &str, default: bool) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).boolean().not_null().default(default).take()
}

pub fn ts(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).date_time().not_null().take()
}

pub fn ts_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).date_time().null().take()
}

pub fn blob_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).blob().null().take()
}

pub fn table(name: &str, cols: Vec<ColumnDef>) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(Alias::new(name));
    for mut c in cols {
        t.col(&mut c);
    }
    t.take()
}

pub fn fk(from_table: &str, col: &str, to_table: &str, on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{col}"))
        .from(Alias::new(from_table), Alias::new(col))
        .to(Alias::new(to_table), Alias::new("id"))
        .on_delete(on_delete)
        .take()
}

pub fn index(table: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(format!("ix_{table}_{}", cols.join("_"))).table(Alias::new(table));
    for c in cols {
        i.col(Alias::new(*c));
    }
    i.take()
}

pub fn unique(table: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut i = index(table, cols);
    i.name(format!("ux_{table}_{}", cols.join("_"))).unique();
    i.take()
}

/// Names that share a key (e.g. differ only in case), grouped and sorted; empty when
/// none clash. For migrations that add a unique normalised column: the operator is
/// told which rows to rename before anything changes.
pub fn clashes<'a>(names: impl IntoIterator<Item = &'a str>, key: impl Fn(&str) -> String) -> Vec<Vec<String>> {
    let mut by_key: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for name in names {
        by_key.entry(key(name)).or_default().push(name.to_string());
    }
    let mut groups: Vec<Vec<String>> = by_key.into_values().filter(|names| names.len() > 1).collect();
    for names in &mut groups {
        names.sort();
    }
    groups
}
