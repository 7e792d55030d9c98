//! Running parsed scripts against the simulator: every configuration change goes through
//! [`RouterSim::apply`], reads through [`RouterSim::print`], so the API and scripts agree.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::RouterSim;
use super::model::{self, Kind};
use super::script::{self, Arg, BinOp, CmpOp, Expr, Part, Pos, ScriptError, ScriptErrorKind, Stmt, StmtKind};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How deep `/import` may nest (a file importing itself fails instead of recursing forever).
const MAX_IMPORT_DEPTH: usize = 8;

/// What RouterOS prints after a successful `/import`.
pub(crate) const IMPORT_DONE: &str = "Script file loaded and executed successfully";

/// A script value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Nil,
    Str(String),
    Num(i64),
    Bool(bool),
    /// `[find …]` results (ids), `print as-value`.
    Array(Vec<Value>),
    /// `/tool fetch … as-value`, `get` without a property name.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// As `:put` and `.` see it.
    pub(crate) fn text(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Str(s) => s.clone(),
            Value::Num(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(items) => items.iter().map(Value::text).collect::<Vec<_>>().join(";"),
            Value::Map(map) => map.iter().map(|(k, v)| format!("{k}={}", v.text())).collect::<Vec<_>>().join(";"),
        }
    }

    /// As a command argument: lists are comma separated (`numbers=*1,*2`).
    fn arg(&self) -> String {
        match self {
            Value::Array(items) => items.iter().map(Value::text).collect::<Vec<_>>().join(","),
            other => other.text(),
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Str(s) => match s.as_str() {
                "true" | "yes" => Some(true),
                "false" | "no" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    fn as_num(&self) -> Option<i64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) if !s.is_empty() && s.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Value::Nil => 0,
            Value::Array(items) => items.len(),
            Value::Map(map) => map.len(),
            other => other.text().len(),
        }
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.as_num(), b.as_num()) {
        return x == y;
    }
    match (a, b) {
        (Value::Bool(x), other) | (other, Value::Bool(x)) => other.as_bool() == Some(*x),
        _ => a.text() == b.text(),
    }
}

/// Property comparison for `find`/`where`: `yes`/`true` and `no`/`false` are the same; an absent
/// property equals `""`.
fn prop_eq(actual: Option<&String>, wanted: &str) -> bool {
    let canon = |s: &str| match s {
        "yes" | "true" => "true".to_owned(),
        "no" | "false" => "false".to_owned(),
        other => other.to_owned(),
    };
    canon(actual.map_or("", String::as_str)) == canon(wanted)
}

/// An evaluated `where` condition or `find` filter.
struct Filter {
    negate: bool,
    key: String,
    test: Option<(CmpOp, String)>,
}

impl Filter {
    fn matches(&self, row: &BTreeMap<String, String>) -> bool {
        let hit = match &self.test {
            Some((CmpOp::Eq, v)) => prop_eq(row.get(&self.key), v),
            Some((CmpOp::Ne, v)) => !prop_eq(row.get(&self.key), v),
            None => row.get(&self.key).is_some_and(|v| v == "true" || v == "yes"),
        };
        hit != self.negate
    }
}

/// `print` output (a simplified `print detail`): list menus number their rows and flag disabled ones
/// with `X`; settings menus print `key: value`.
fn format_print(kind: Option<Kind>, rows: &[BTreeMap<String, String>]) -> String {
    let quote = |v: &str| {
        if v.is_empty() || v.chars().any(|c| c.is_whitespace() || "\";$[]{}()\\".contains(c)) {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            v.to_owned()
        }
    };
    let mut out = String::new();
    if matches!(kind, Some(Kind::Settings | Kind::ReadOnly)) {
        for row in rows {
            let width = row.keys().map(String::len).max().unwrap_or(0);
            for (k, v) in row.iter().filter(|(k, _)| *k != ".id") {
                out.push_str(&format!("{k:>width$}: {v}\n"));
            }
        }
        return out;
    }
    if rows.iter().any(|r| r.get("disabled").is_some_and(|d| d == "true")) {
        out.push_str("Flags: X - disabled\n");
    }
    for (i, row) in rows.iter().enumerate() {
        let flag = if row.get("disabled").is_some_and(|d| d == "true") { "X" } else { " " };
        out.push_str(&format!("{i:>2} {flag} "));
        if let Some(comment) = row.get("comment") {
            out.push_str(&format!(";;; {comment}\n     "));
        }
        let props: Vec<String> = row
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), ".id" | "comment" | "disabled"))
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        out.push_str(&props.join(" "));
        out.push('\n');
    }
    out
}

/// RouterOS durations: `300ms`, `3s`, `1m30s`, `1d`, a bare number is seconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    broadnet_domain::duration::parse(text, broadnet_domain::duration::Bare::Seconds)
}

/// Splits `http-header-field` on commas not escaped with `\`.
fn header_fields(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(',') => cur.push(','),
                Some(other) => {
                    cur.push('\\');
                    cur.push(other);
                }
                None => cur.push('\\'),
            },
            ',' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

fn one_of(
    pos: Pos,
    args: &BTreeMap<String, String>,
    key: &str,
    default: &str,
    allowed: &[&str],
) -> Result<String, ScriptError> {
    let value = args.get(key).map_or(default, String::as_str).to_ascii_lowercase();
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(ScriptError::failure(pos, format!("input does not match any value of {key}")))
    }
}

/// Runs statements; holds the output and the variable scopes of one script (or one `/import`ed file).
pub(crate) struct Exec<'a> {
    sim: &'a RouterSim,
    pub(crate) out: String,
    scopes: Vec<BTreeMap<String, Value>>,
    depth: usize,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(sim: &'a RouterSim, depth: usize) -> Self {
        Exec { sim, out: String::new(), scopes: Vec::new(), depth }
    }

    /// Run a block in a new variable scope; its value is the last statement's.
    pub(crate) fn block<'b>(&'b mut self, stmts: &'b [Stmt]) -> BoxFuture<'b, Result<Value, ScriptError>> {
        Box::pin(async move {
            self.scopes.push(BTreeMap::new());
            let mut last = Ok(Value::Nil);
            for stmt in stmts {
                last = self.stmt(stmt).await;
                if last.is_err() {
                    break;
                }
            }
            self.scopes.pop();
            last
        })
    }

    fn lookup(&self, name: &str) -> Value {
        for scope in self.scopes.iter().rev() {
            if let Some(v) = scope.get(name) {
                return v.clone();
            }
        }
        self.sim.global_value(name).unwrap_or(Value::Nil)
    }

    fn assign(&mut self, name: &str, value: Value) {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(slot) = scope.get_mut(name) {
                *slot = value;
                return;
            }
        }
        if self.sim.global_value(name).is_some() {
            self.sim.set_global_value(name, value);
        } else if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_owned(), value);
        }
    }

    async fn optional(&mut self, pos: Pos, expr: &Option<Expr>) -> Result<Value, ScriptError> {
        match expr {
            Some(e) => self.eval(pos, e).await,
            None => Ok(Value::Nil),
        }
    }

    fn stmt<'b>(&'b mut self, stmt: &'b Stmt) -> BoxFuture<'b, Result<Value, ScriptError>> {
        Box::pin(async move {
            let pos = stmt.pos;
            match &stmt.kind {
                StmtKind::Cmd { menu, command, args } => self.command(pos, menu, command, args).await,
                StmtKind::Local(name, value) => {
                    let v = self.optional(pos, value).await?;
                    if let Some(scope) = self.scopes.last_mut() {
                        scope.insert(name.clone(), v);
                    }
                    Ok(Value::Nil)
                }
                StmtKind::Global(name, value) => {
                    match value {
                        Some(e) => {
                            let v = self.eval(pos, e).await?;
                            self.sim.set_global_value(name, v);
                        }
                        None => self.sim.declare_global(name),
                    }
                    Ok(Value::Nil)
                }
                StmtKind::Set(name, value) => {
                    let v = self.optional(pos, value).await?;
                    self.assign(name, v);
                    Ok(Value::Nil)
                }
                StmtKind::Put(value) => {
                    let v = self.optional(pos, value).await?;
                    self.out.push_str(&v.text());
                    self.out.push('\n');
                    Ok(Value::Nil)
                }
                StmtKind::Error(value) => {
                    let v = self.optional(pos, value).await?;
                    Err(ScriptError::new(pos, ScriptErrorKind::Error, v.text()))
                }
                StmtKind::Len(value) => {
                    let v = self.eval(pos, value).await?;
                    Ok(Value::Num(i64::try_from(v.len()).unwrap_or(i64::MAX)))
                }
                StmtKind::Delay(value) => {
                    let v = self.optional(pos, value).await?;
                    if !matches!(v, Value::Nil) && parse_duration(&v.text()).is_none() {
                        return Err(ScriptError::failure(pos, "invalid time value"));
                    }
                    Ok(Value::Nil)
                }
                StmtKind::Log(level, value) => {
                    let v = self.optional(pos, value).await?;
                    self.sim.push_script_log(level, &v.text());
                    Ok(Value::Nil)
                }
                StmtKind::If { cond, then, otherwise } => {
                    let c = self.eval(pos, cond).await?;
                    let Some(c) = c.as_bool() else {
                        return Err(ScriptError::failure(pos, "conditional not boolean"));
                    };
                    match (c, otherwise) {
                        (true, _) => self.block(then).await.map(|_| Value::Nil),
                        (false, Some(otherwise)) => self.block(otherwise).await.map(|_| Value::Nil),
                        (false, None) => Ok(Value::Nil),
                    }
                }
                StmtKind::Do { body, on_error } => match self.block(body).await {
                    Ok(v) => Ok(v),
                    Err(err) => match on_error {
                        Some(handler) => {
                            tracing::debug!(error = %err, "script :do on-error caught");
                            self.block(handler).await
                        }
                        None => Err(err),
                    },
                },
                StmtKind::Block(body) => self.block(body).await,
            }
        })
    }

    fn eval<'b>(&'b mut self, pos: Pos, expr: &'b Expr) -> BoxFuture<'b, Result<Value, ScriptError>> {
        Box::pin(async move {
            Ok(match expr {
                Expr::Lit(s) => Value::Str(s.clone()),
                Expr::Num(n) => Value::Num(*n),
                Expr::Bool(b) => Value::Bool(*b),
                Expr::Str(parts) => {
                    let mut s = String::new();
                    for part in parts {
                        match part {
                            Part::Lit(l) => s.push_str(l),
                            Part::Expr(e) => s.push_str(&self.eval(pos, e).await?.text()),
                        }
                    }
                    Value::Str(s)
                }
                Expr::Var(name) => self.lookup(name),
                Expr::Sub(stmts) => self.block(stmts).await?,
                Expr::Not(e) => {
                    let v = self.eval(pos, e).await?;
                    Value::Bool(!v.as_bool().ok_or_else(|| ScriptError::failure(pos, "cannot negate a non-boolean"))?)
                }
                Expr::Neg(e) => {
                    let v = self.eval(pos, e).await?;
                    Value::Num(-v.as_num().ok_or_else(|| ScriptError::failure(pos, "cannot negate a non-number"))?)
                }
                Expr::Binary(op, a, b) => {
                    let a = self.eval(pos, a).await?;
                    match op {
                        BinOp::And if a.as_bool() == Some(false) => return Ok(Value::Bool(false)),
                        BinOp::Or if a.as_bool() == Some(true) => return Ok(Value::Bool(true)),
                        _ => {}
                    }
                    let b = self.eval(pos, b).await?;
                    binary(pos, *op, a, b)?
                }
            })
        })
    }

    async fn command(&mut self, pos: Pos, menu: &str, command: &str, args: &[Arg]) -> Result<Value, ScriptError> {
        let mut named: Vec<(String, Value)> = Vec::new();
        let mut positional: Vec<Value> = Vec::new();
        let mut flags: Vec<String> = Vec::new();
        let mut filters: Vec<Filter> = Vec::new();
        for arg in args {
            match arg {
                Arg::Named { pos: apos, name, value } => named.push((name.clone(), self.eval(*apos, value).await?)),
                Arg::Positional { pos: apos, value } => positional.push(self.eval(*apos, value).await?),
                Arg::Flag { name } => flags.push(name.clone()),
                Arg::Where(conds) => {
                    for cond in conds {
                        let test = match &cond.test {
                            Some((op, e)) => Some((*op, self.eval(pos, e).await?.arg())),
                            None => None,
                        };
                        filters.push(Filter { negate: cond.negate, key: cond.key.clone(), test });
                    }
                }
            }
        }
        match (menu, command) {
            ("", "import") => self.import(pos, named, positional, &flags).await,
            ("/tool", "fetch") => self.fetch(pos, named, &flags).await,
            (_, "find") => {
                for (key, value) in named {
                    filters.push(Filter { negate: false, key, test: Some((CmpOp::Eq, value.arg())) });
                }
                let rows = self.sim.print(menu, &[]).map_err(|t| ScriptError::failure(pos, t.message))?;
                Ok(Value::Array(
                    rows.iter()
                        .filter(|r| filters.iter().all(|f| f.matches(r)))
                        .filter_map(|r| r.get(".id").cloned().map(Value::Str))
                        .collect(),
                ))
            }
            (_, "print") => self.print(pos, menu, named, &flags, &filters),
            (_, "get") => self.get(pos, menu, named, positional),
            _ => self.change(pos, menu, command, named, positional),
        }
    }

    fn print(
        &mut self,
        pos: Pos,
        menu: &str,
        named: Vec<(String, Value)>,
        flags: &[String],
        filters: &[Filter],
    ) -> Result<Value, ScriptError> {
        let rows = self.sim.print(menu, &[]).map_err(|t| ScriptError::failure(pos, t.message))?;
        let proplist: Option<Vec<String>> = named
            .iter()
            .find(|(k, _)| k == "proplist")
            .map(|(_, v)| v.arg().split(',').map(|p| p.trim().to_owned()).collect());
        let rows: Vec<BTreeMap<String, String>> = rows
            .into_iter()
            .filter(|r| filters.iter().all(|f| f.matches(r)))
            .map(|r| match &proplist {
                Some(props) => r.into_iter().filter(|(k, _)| k == ".id" || props.contains(k)).collect(),
                None => r,
            })
            .collect();
        let has = |f: &str| flags.iter().any(|x| x == f);
        if has("count-only") {
            self.out.push_str(&format!("{}\n", rows.len()));
            return Ok(Value::Num(i64::try_from(rows.len()).unwrap_or(i64::MAX)));
        }
        if has("as-value") {
            return Ok(Value::Array(
                rows.into_iter()
                    .map(|r| Value::Map(r.into_iter().map(|(k, v)| (k, Value::Str(v))).collect()))
                    .collect(),
            ));
        }
        self.out.push_str(&format_print(model::menu_kind(menu), &rows));
        Ok(Value::Nil)
    }

    fn get(
        &mut self,
        pos: Pos,
        menu: &str,
        named: Vec<(String, Value)>,
        positional: Vec<Value>,
    ) -> Result<Value, ScriptError> {
        let settings = matches!(model::menu_kind(menu), Some(Kind::Settings | Kind::ReadOnly));
        let mut positional = positional.into_iter();
        let mut numbers = if settings { None } else { positional.next() };
        let mut value_name = positional.next();
        for (k, v) in named {
            match k.as_str() {
                "value-name" => value_name = Some(v),
                _ => numbers = Some(v),
            }
        }
        let rows = self.sim.print(menu, &[]).map_err(|t| ScriptError::failure(pos, t.message))?;
        let row = if settings {
            rows.into_iter().next()
        } else {
            let selector = numbers.map(|n| n.arg()).unwrap_or_default();
            let first = selector.split(',').map(str::trim).find(|t| !t.is_empty()).unwrap_or_default().to_owned();
            rows.into_iter().find(|r| {
                !first.is_empty()
                    && if first.starts_with('*') {
                        r.get(".id").is_some_and(|id| id.eq_ignore_ascii_case(&first))
                    } else {
                        r.get("name") == Some(&first)
                    }
            })
        };
        let Some(row) = row else { return Err(ScriptError::failure(pos, "no such item")) };
        Ok(match value_name {
            Some(name) => row.get(&name.text()).cloned().map_or(Value::Nil, Value::Str),
            None => Value::Map(row.into_iter().map(|(k, v)| (k, Value::Str(v))).collect()),
        })
    }

    fn change(
        &mut self,
        pos: Pos,
        menu: &str,
        command: &str,
        named: Vec<(String, Value)>,
        positional: Vec<Value>,
    ) -> Result<Value, ScriptError> {
        let list = matches!(model::menu_kind(menu), Some(Kind::List | Kind::Fixed | Kind::Active));
        let selects = list && command != "add";
        let mut numbers = positional.into_iter().next();
        let mut attrs: Vec<(String, String)> = Vec::new();
        for (k, v) in named {
            if selects && (k == "numbers" || k == "number") {
                numbers = Some(v);
            } else {
                attrs.push((k, v.arg()));
            }
        }
        if selects {
            let Some(numbers) = numbers else {
                return Err(ScriptError::failure(pos, "missing value(s) of argument(s) numbers"));
            };
            let selector = numbers.arg();
            if selector.trim().is_empty() {
                // `[find …]` matched nothing: RouterOS does nothing, without an error
                return Ok(Value::Nil);
            }
            attrs.insert(0, ("numbers".into(), selector));
        }
        match self.sim.apply(menu, command, &attrs) {
            Ok(Some(id)) => Ok(Value::Str(id)),
            Ok(None) => Ok(Value::Nil),
            Err(trap) => Err(ScriptError::failure(pos, trap.message)),
        }
    }

    async fn import(
        &mut self,
        pos: Pos,
        named: Vec<(String, Value)>,
        positional: Vec<Value>,
        flags: &[String],
    ) -> Result<Value, ScriptError> {
        let name = positional
            .into_iter()
            .next()
            .or_else(|| named.into_iter().find(|(k, _)| k == "file-name").map(|(_, v)| v))
            .map(|v| v.text())
            .unwrap_or_default();
        if name.is_empty() {
            return Err(ScriptError::failure(pos, "missing value(s) of argument(s) file-name"));
        }
        let Some(source) = self.sim.file_text(&name) else {
            return Err(ScriptError::failure(pos, "no such file"));
        };
        if self.depth >= MAX_IMPORT_DEPTH {
            return Err(ScriptError::failure(pos, "failure: too deep import nesting"));
        }
        let (stmts, _) = script::parse(&source, "")?;
        if flags.iter().any(|f| f == "dry-run") {
            return Ok(Value::Nil);
        }
        let mut inner = Exec::new(self.sim, self.depth + 1);
        let result = inner.block(&stmts).await;
        self.out.push_str(&inner.out);
        result?;
        self.out.push_str(IMPORT_DONE);
        self.out.push('\n');
        Ok(Value::Nil)
    }

    async fn fetch(&mut self, pos: Pos, named: Vec<(String, Value)>, flags: &[String]) -> Result<Value, ScriptError> {
        let args: BTreeMap<String, String> = named.into_iter().map(|(k, v)| (k, v.text())).collect();
        let as_value = flags.iter().any(|f| f == "as-value");
        let fail = |m: String| ScriptError::failure(pos, m);
        let Some(url) = args.get("url").filter(|u| !u.is_empty()) else {
            return Err(fail("failure: url is required (address/src-path modes are not simulated)".into()));
        };
        let url = reqwest::Url::parse(url).map_err(|_| fail("failure: invalid URL".into()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(fail(format!("failure: {} is not supported by the simulator", url.scheme())));
        }
        let method = one_of(pos, &args, "http-method", "get", &["get", "post", "put", "patch", "delete", "head"])?;
        let output = one_of(pos, &args, "output", "file", &["none", "file", "user", "user-with-headers"])?;
        let check = one_of(pos, &args, "check-certificate", "no", &["no", "yes", "yes-without-crl"])?;
        let keep = one_of(pos, &args, "keep-result", "yes", &["yes", "no"])?;
        let redirects: usize = args.get("http-max-redirect-count").and_then(|n| n.parse().ok()).unwrap_or(0);
        let timeout = args.get("idle-timeout").and_then(|t| parse_duration(t)).unwrap_or(Duration::from_secs(10));

        let client = reqwest::Client::builder()
            .timeout(timeout)
            .danger_accept_invalid_certs(check == "no")
            .redirect(if redirects == 0 {
                reqwest::redirect::Policy::none()
            } else {
                reqwest::redirect::Policy::limited(redirects)
            })
            .build()
            .map_err(|e| fail(format!("failure: {e}")))?;
        let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| fail("input does not match any value of http-method".into()))?;
        let mut request = client.request(method, url.clone());
        if let Some(fields) = args.get("http-header-field") {
            for field in header_fields(fields) {
                let Some((name, value)) = field.split_once(':') else {
                    return Err(fail(format!("failure: invalid header field {field}")));
                };
                request = request.header(name.trim(), value.trim());
            }
        }
        if let Some(data) = args.get("http-data") {
            request = request.body(data.clone());
        }
        if let Some(user) = args.get("user") {
            request = request.basic_auth(user, args.get("password"));
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let started = Instant::now();
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                fail("failure: connection timeout".into())
            } else {
                fail(format!("failure: closing connection: <connection failed> {host}:{port} (4)"))
            }
        })?;
        let status = response.status();
        let peer = response.remote_addr().map_or_else(|| format!("{host}:{port}"), |a| a.to_string());
        if !status.is_success() {
            let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
            let reason = status.canonical_reason().unwrap_or("");
            let message = if self.sim.model_version() < (7, 13, 0) {
                let loc = location.map(|l| format!(" \"{l}\"")).unwrap_or_default();
                format!("failure: closing connection: <{} {reason}{loc}> {peer} (4)", status.as_u16())
            } else {
                let loc = location.map(|l| format!(" (Location: \"{l}\")")).unwrap_or_default();
                format!("failure: Fetch failed with status {}{loc}", status.as_u16())
            };
            return Err(fail(message));
        }
        let body = response.bytes().await.map_err(|_| fail(format!("failure: closing connection: {peer}")))?;
        let kib = i64::try_from(body.len().div_ceil(1024)).unwrap_or(i64::MAX);
        let secs = started.elapsed().as_secs().max(1);
        if output == "file" && keep == "yes" {
            let dst = match args.get("dst-path").filter(|d| !d.is_empty()) {
                Some(dst) => dst.clone(),
                None => url
                    .path_segments()
                    .and_then(|mut s| s.next_back().map(str::to_owned))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| host.clone()),
            };
            self.sim.write_file(&dst, &body).map_err(|t| fail(t.message))?;
        }
        let data = matches!(output.as_str(), "user" | "user-with-headers")
            .then(|| String::from_utf8_lossy(&body).into_owned());
        if as_value {
            let mut map = BTreeMap::new();
            map.insert("status".into(), Value::Str("finished".into()));
            map.insert("downloaded".into(), Value::Num(kib));
            map.insert("total".into(), Value::Num(kib));
            map.insert("duration".into(), Value::Str(format!("{secs}s")));
            if let Some(data) = data {
                map.insert("data".into(), Value::Str(data));
            }
            return Ok(Value::Map(map));
        }
        self.out.push_str(&format!(
            "      status: finished\n  downloaded: {kib}KiB\n       total: {kib}KiB\n    duration: {secs}s\n"
        ));
        if let Some(data) = data {
            self.out.push_str(&format!("        data: {data}\n"));
        }
        Ok(Value::Nil)
    }
}

fn binary(pos: Pos, op: BinOp, a: Value, b: Value) -> Result<Value, ScriptError> {
    let num = |v: &Value| v.as_num().ok_or_else(|| ScriptError::failure(pos, "expected a number"));
    Ok(match op {
        BinOp::Concat => Value::Str(a.text() + &b.text()),
        BinOp::Eq => Value::Bool(equal(&a, &b)),
        BinOp::Ne => Value::Bool(!equal(&a, &b)),
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            let ord = match (a.as_num(), b.as_num()) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => a.text().cmp(&b.text()),
            };
            Value::Bool(match op {
                BinOp::Lt => ord.is_lt(),
                BinOp::Gt => ord.is_gt(),
                BinOp::Le => ord.is_le(),
                _ => ord.is_ge(),
            })
        }
        BinOp::And | BinOp::Or => {
            let bool_of = |v: &Value| v.as_bool().ok_or_else(|| ScriptError::failure(pos, "conditional not boolean"));
            let (x, y) = (bool_of(&a)?, bool_of(&b)?);
            Value::Bool(if op == BinOp::And { x && y } else { x || y })
        }
        BinOp::Add => Value::Num(num(&a)?.wrapping_add(num(&b)?)),
        BinOp::Sub => Value::Num(num(&a)?.wrapping_sub(num(&b)?)),
        BinOp::Mul => Value::Num(num(&a)?.wrapping_mul(num(&b)?)),
        BinOp::Div => {
            let d = num(&b)?;
            if d == 0 {
                return Err(ScriptError::failure(pos, "division by zero"));
            }
            Value::Num(num(&a)? / d)
        }
        BinOp::Index => match a {
            Value::Map(map) => map.get(&b.text()).cloned().unwrap_or(Value::Nil),
            Value::Array(items) => b
                .as_num()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| items.get(i).cloned())
                .unwrap_or(Value::Nil),
            _ => Value::Nil,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("00:05:00"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn header_splitting() {
        assert_eq!(
            header_fields("Content-Type: application/json,X-Token: a\\,b"),
            ["Content-Type: application/json", "X-Token: a,b"]
        );
    }
}
