//! Parsing the RouterOS CLI script subset the simulator runs (see [`super::RouterSim::run_script`]).
//!
//! A script is parsed as a whole before anything runs, like RouterOS does for `/import` and pasted
//! blocks: a syntax error anywhere means nothing is executed. Menu paths are resolved while parsing
//! (a word is a menu when the simulator has that menu, otherwise it must be a command of the menu),
//! so `bad command name x` is a parse error too.

use std::fmt;

use super::model::{self, Kind};

/// Where something is in a script: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

/// What stopped a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptErrorKind {
    /// The script did not parse (`syntax error`, `bad command name x`, `expected end of command`);
    /// nothing ran.
    Syntax,
    /// A command failed while running: a trap from the configuration (`failure: …`, `input does not
    /// match any value of …`, `no such item`), a failed `/tool fetch`, a missing `/import` file.
    Failure,
    /// `:error "message"`.
    Error,
}

/// A script that failed, with where it failed.
///
/// Displays like RouterOS: parse errors carry their position (`syntax error (line 3 column 7)`),
/// failures and `:error` just their message (`failure: already have interface with such name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// 1-based line of the offending token (parse errors) or of the command that failed.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// RouterOS's message, without the position.
    pub message: String,
    /// Parse error, failing command or `:error`.
    pub kind: ScriptErrorKind,
}

impl ScriptError {
    pub(crate) fn new(pos: Pos, kind: ScriptErrorKind, message: impl Into<String>) -> Self {
        ScriptError { line: pos.line, column: pos.col, message: message.into(), kind }
    }

    pub(crate) fn failure(pos: Pos, message: impl Into<String>) -> Self {
        ScriptError::new(pos, ScriptErrorKind::Failure, message)
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ScriptErrorKind::Syntax => write!(f, "{} (line {} column {})", self.message, self.line, self.column),
            ScriptErrorKind::Failure | ScriptErrorKind::Error => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

fn syntax(pos: Pos, message: impl Into<String>) -> ScriptError {
    ScriptError::new(pos, ScriptErrorKind::Syntax, message)
}

fn syntax_error(pos: Pos) -> ScriptError {
    syntax(pos, "syntax error")
}

fn end_expected(pos: Pos) -> ScriptError {
    syntax(pos, "expected end of command")
}

#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub pos: Pos,
    pub kind: StmtKind,
}

#[derive(Debug, Clone)]
pub(crate) enum StmtKind {
    /// `/menu path command args…`; `menu` is normalised (`/ip/address`, `""` for the root).
    Cmd {
        menu: String,
        command: String,
        args: Vec<Arg>,
    },
    Local(String, Option<Expr>),
    Global(String, Option<Expr>),
    Set(String, Option<Expr>),
    Put(Option<Expr>),
    Error(Option<Expr>),
    Len(Expr),
    Delay(Option<Expr>),
    Log(String, Option<Expr>),
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Option<Vec<Stmt>>,
    },
    Do {
        body: Vec<Stmt>,
        on_error: Option<Vec<Stmt>>,
    },
    Block(Vec<Stmt>),
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// `name=value`.
    Named { pos: Pos, name: String, value: Expr },
    /// A value without a name (`numbers`, `value-name`, `file-name`).
    Positional { pos: Pos, value: Expr },
    /// `as-value`, `detail`, `count-only`, …
    Flag { name: String },
    /// `where cond [and cond]…` (`find`, `print`).
    Where(Vec<Cond>),
}

#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub negate: bool,
    pub key: String,
    /// `None`: the property is true (`where disabled`).
    pub test: Option<(CmpOp, Expr)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    /// `$map->"key"`.
    Index,
}

impl BinOp {
    fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 0,
            BinOp::And => 1,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => 2,
            BinOp::Concat => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div => 5,
            BinOp::Index => 6,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// A bare word or other literal text.
    Lit(String),
    Num(i64),
    Bool(bool),
    /// A double-quoted string with `$var` / `$(…)` / `$[…]` interpolation.
    Str(Vec<Part>),
    Var(String),
    /// `[command]`.
    Sub(Vec<Stmt>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone)]
pub(crate) enum Part {
    Lit(String),
    Expr(Expr),
}

/// Parameters `/tool fetch` knows.
const FETCH_PARAMS: &[&str] = &[
    "url",
    "dst-path",
    "http-method",
    "http-data",
    "http-header-field",
    "output",
    "check-certificate",
    "mode",
    "keep-result",
    "user",
    "password",
    "http-max-redirect-count",
    "idle-timeout",
    "src-address",
    "address",
    "host",
    "port",
    "src-path",
    "upload",
    "duration",
];

const PRINT_FLAGS: &[&str] =
    &["detail", "terse", "count-only", "as-value", "without-paging", "brief", "value-list", "show-ids"];

/// Commands a menu has in the simulator (`""` is the root, which has `/import`).
pub(crate) fn commands(path: &str) -> &'static [&'static str] {
    match path {
        "" => &["import"],
        "/tool" => &["fetch"],
        _ => match model::menu_kind(path) {
            Some(Kind::List) => &["add", "set", "remove", "print", "get", "find", "enable", "disable", "unset"],
            Some(Kind::Fixed) => &["set", "print", "get", "find", "enable", "disable", "unset"],
            Some(Kind::Active) => &["print", "remove", "get", "find"],
            Some(Kind::Settings) => &["set", "print", "get"],
            Some(Kind::ReadOnly) => &["print", "get"],
            None => &[],
        },
    }
}

fn is_menu_or_prefix(path: &str) -> bool {
    path == "/tool" || model::menu_kind(path).is_some() || model::is_menu_prefix(path)
}

fn is_list_kind(path: &str) -> bool {
    matches!(model::menu_kind(path), Some(Kind::List | Kind::Fixed | Kind::Active))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parse `source` with `menu` as the current menu; returns the statements and the current menu at the
/// end (a line holding only a path changes it).
pub(crate) fn parse(source: &str, menu: &str) -> Result<(Vec<Stmt>, String), ScriptError> {
    let mut parser = Parser::new(source);
    let mut menu = menu.to_owned();
    let stmts = parser.stmts(&mut menu, None)?;
    Ok((stmts, menu))
}

struct Parser {
    chars: Vec<(char, Pos)>,
    i: usize,
    end: Pos,
    /// Inside `( )` or `[ ]`: newlines are whitespace.
    nest: usize,
}

impl Parser {
    /// Keeps each character's position; joins continued lines (a `\` that is not itself escaped, then
    /// the newline and the next line's indentation, disappear).
    fn new(source: &str) -> Parser {
        let raw: Vec<char> = source.chars().collect();
        let mut chars = Vec::with_capacity(raw.len());
        let (mut line, mut col) = (1, 1);
        let mut i = 0;
        let mut backslashes = 0usize;
        while i < raw.len() {
            let c = raw[i];
            if c == '\\' {
                backslashes += 1;
                let mut j = i + 1;
                if raw.get(j) == Some(&'\r') {
                    j += 1;
                }
                if backslashes % 2 == 1 && raw.get(j) == Some(&'\n') {
                    // continuation: skip `\`, newline and the next line's leading blanks
                    j += 1;
                    line += 1;
                    col = 1;
                    while matches!(raw.get(j), Some(' ' | '\t')) {
                        j += 1;
                        col += 1;
                    }
                    i = j;
                    backslashes = 0;
                    continue;
                }
            } else {
                backslashes = 0;
            }
            if c == '\r' && raw.get(i + 1) == Some(&'\n') {
                i += 1;
                continue;
            }
            chars.push((c, Pos { line, col }));
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }
        Parser { chars, i: 0, end: Pos { line, col }, nest: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).map(|(c, _)| *c)
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.i + n).map(|(c, _)| *c)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.i += 1;
        }
        c
    }

    fn pos(&self) -> Pos {
        self.chars.get(self.i).map_or(self.end, |(_, p)| *p)
    }

    fn skip_inline(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || c == '\r' || (c == '\n' && self.nest > 0) {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn at_command_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some('\n') => self.nest == 0,
            Some(';' | '}' | ']') => true,
            _ => false,
        }
    }

    /// Characters of a word (`[A-Za-z0-9._-]`) starting at the cursor, not consumed.
    fn peek_word(&self) -> String {
        self.chars[self.i..].iter().map(|(c, _)| *c).take_while(|c| is_word_char(*c)).collect()
    }

    fn word(&mut self) -> String {
        let w = self.peek_word();
        self.i += w.chars().count();
        w
    }

    fn ident(&mut self) -> String {
        let w: String = self.chars[self.i..].iter().map(|(c, _)| *c).take_while(|c| is_ident_char(*c)).collect();
        self.i += w.chars().count();
        w
    }

    /// `name=` at the cursor (not `name==`): the name.
    fn peek_named(&self) -> Option<String> {
        let w = self.peek_word();
        if w.is_empty() || !w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '.') {
            return None;
        }
        let n = w.chars().count();
        (self.peek_at(n) == Some('=') && self.peek_at(n + 1) != Some('=')).then_some(w)
    }

    /// Is the word at the cursor exactly `w` (followed by a blank or the end of the command)?
    fn at_keyword(&self, w: &str) -> bool {
        self.peek_word() == w && {
            let next = self.peek_at(w.chars().count());
            next.is_none_or(|c| c.is_whitespace() || matches!(c, ';' | ']' | '}'))
        }
    }

    fn stmts(&mut self, menu: &mut String, closer: Option<(char, Pos)>) -> Result<Vec<Stmt>, ScriptError> {
        let mut out = Vec::new();
        loop {
            while let Some(' ' | '\t' | '\r' | '\n' | ';') = self.peek() {
                self.i += 1;
            }
            match self.peek() {
                None => match closer {
                    Some((_, open)) => return Err(syntax_error(open)),
                    None => break,
                },
                Some(c) if closer.is_some_and(|(close, _)| close == c) => break,
                Some('}' | ']' | ')') => return Err(syntax_error(self.pos())),
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                    continue;
                }
                Some(_) => {}
            }
            if let Some(stmt) = self.stmt(menu)? {
                out.push(stmt);
            }
            self.skip_inline();
            match self.peek() {
                None | Some('\n' | ';') => {}
                Some(c) if closer.is_some_and(|(close, _)| close == c) => {}
                Some(_) => return Err(end_expected(self.pos())),
            }
        }
        Ok(out)
    }

    fn stmt(&mut self, menu: &mut String) -> Result<Option<Stmt>, ScriptError> {
        let pos = self.pos();
        match self.peek() {
            Some(':') => {
                self.i += 1;
                self.script_cmd(pos, menu).map(Some)
            }
            Some('{') => {
                let body = self.block(menu)?;
                Ok(Some(Stmt { pos, kind: StmtKind::Block(body) }))
            }
            _ => self.menu_cmd(pos, menu),
        }
    }

    /// `{ stmts }` with its own copy of the current menu.
    fn block(&mut self, menu: &str) -> Result<Vec<Stmt>, ScriptError> {
        let open = self.pos();
        if self.peek() != Some('{') {
            return Err(syntax_error(open));
        }
        self.i += 1;
        let saved = std::mem::replace(&mut self.nest, 0);
        let mut inner = menu.to_owned();
        let body = self.stmts(&mut inner, Some(('}', open)))?;
        self.i += 1; // `}`
        self.nest = saved;
        Ok(body)
    }

    fn menu_cmd(&mut self, pos: Pos, menu: &mut String) -> Result<Option<Stmt>, ScriptError> {
        let mut path = if self.peek() == Some('/') {
            self.i += 1;
            String::new()
        } else {
            menu.clone()
        };
        loop {
            let wpos = self.pos();
            let word = self.word();
            if word.is_empty() {
                if self.peek() == Some('/') && !path.is_empty() {
                    return Err(syntax_error(self.pos()));
                }
                break;
            }
            if word == ".." {
                if let Some(cut) = path.rfind('/') {
                    path.truncate(cut);
                }
            } else {
                let candidate = format!("{path}/{word}");
                if is_menu_or_prefix(&candidate) {
                    path = candidate;
                } else if commands(&path).contains(&word.as_str()) {
                    if self.peek() == Some('/') {
                        return Err(syntax_error(self.pos()));
                    }
                    let args = self.args(&path, &word)?;
                    return Ok(Some(Stmt { pos, kind: StmtKind::Cmd { menu: path, command: word, args } }));
                } else {
                    return Err(syntax(wpos, format!("bad command name {word}")));
                }
            }
            if self.peek() == Some('/') {
                self.i += 1;
                continue;
            }
            self.skip_inline();
            if !self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '.') {
                break;
            }
        }
        if !self.at_command_end() {
            return Err(end_expected(self.pos()));
        }
        *menu = path;
        Ok(None)
    }

    fn args(&mut self, path: &str, command: &str) -> Result<Vec<Arg>, ScriptError> {
        let mut args = Vec::new();
        let flags: &[&str] = match command {
            "print" => PRINT_FLAGS,
            "fetch" => &["as-value"],
            "import" => &["dry-run"],
            _ => &[],
        };
        let mut positional = 0usize;
        let max_positional = match command {
            "set" | "remove" | "enable" | "disable" | "unset" if is_list_kind(path) => 1,
            "get" if is_list_kind(path) => 2,
            "get" | "import" => 1,
            _ => 0,
        };
        loop {
            self.skip_inline();
            if self.at_command_end() {
                break;
            }
            let pos = self.pos();
            if matches!(command, "find" | "print") && self.at_keyword("where") {
                self.word();
                args.push(Arg::Where(self.conditions(path)?));
                continue;
            }
            if let Some(name) = self.peek_named() {
                let allowed = match command {
                    "fetch" => FETCH_PARAMS.contains(&name.as_str()),
                    "import" => matches!(name.as_str(), "file-name" | "verbose" | "from-line"),
                    "print" => matches!(name.as_str(), "proplist" | "from"),
                    "get" => matches!(name.as_str(), "number" | "numbers" | "value-name"),
                    "remove" | "enable" | "disable" => matches!(name.as_str(), "numbers" | "number"),
                    _ => true,
                };
                if !allowed {
                    return Err(end_expected(pos));
                }
                self.i += name.chars().count() + 1;
                let value = self.value_after_eq(path)?;
                args.push(Arg::Named { pos, name, value });
                continue;
            }
            if flags.iter().any(|f| self.at_keyword(f)) {
                let name = self.word();
                args.push(Arg::Flag { name });
                continue;
            }
            if positional >= max_positional {
                return Err(end_expected(pos));
            }
            positional += 1;
            let value = self.value(path)?;
            args.push(Arg::Positional { pos, value });
        }
        Ok(args)
    }

    fn conditions(&mut self, path: &str) -> Result<Vec<Cond>, ScriptError> {
        let mut conds = Vec::new();
        loop {
            self.skip_inline();
            if self.at_command_end() {
                break;
            }
            if self.at_keyword("and") {
                self.word();
                continue;
            }
            let negate = self.peek() == Some('!');
            if negate {
                self.i += 1;
            }
            let kpos = self.pos();
            let key = self.word();
            if key.is_empty() || key == "or" {
                return Err(syntax_error(kpos));
            }
            let test = match (self.peek(), self.peek_at(1)) {
                (Some('='), _) => {
                    self.i += 1;
                    Some((CmpOp::Eq, self.value_after_eq(path)?))
                }
                (Some('!'), Some('=')) => {
                    self.i += 2;
                    Some((CmpOp::Ne, self.value_after_eq(path)?))
                }
                (Some(c), _) if !c.is_whitespace() && !matches!(c, ';' | ']' | '}') => {
                    return Err(syntax_error(self.pos()));
                }
                _ => None,
            };
            conds.push(Cond { negate, key, test });
        }
        Ok(conds)
    }

    /// The value after `name=`: empty when a blank or the end of the command follows.
    fn value_after_eq(&mut self, path: &str) -> Result<Expr, ScriptError> {
        match self.peek() {
            None => Ok(Expr::Lit(String::new())),
            Some(c) if c.is_whitespace() || matches!(c, ';' | ']' | '}') => Ok(Expr::Lit(String::new())),
            _ => self.value(path),
        }
    }

    /// One argument value: `"string"`, `[command]`, `(expression)`, `$var` or a bare word.
    fn value(&mut self, path: &str) -> Result<Expr, ScriptError> {
        let pos = self.pos();
        let value = match self.peek() {
            Some('"') => self.string(path)?,
            Some('[') => self.substitution(path)?,
            Some('(') => self.parenthesised(path)?,
            Some('$') => {
                let mut var = self.var_ref()?;
                while self.peek() == Some('-') && self.peek_at(1) == Some('>') {
                    self.i += 2;
                    let key = self.primary(path, true)?;
                    var = Expr::Binary(BinOp::Index, Box::new(var), Box::new(key));
                }
                var
            }
            None | Some('{' | ')' | '}' | ']' | ';' | '\n') => return Err(syntax_error(pos)),
            _ => self.bare()?,
        };
        match self.peek() {
            None => {}
            Some(c) if c.is_whitespace() || matches!(c, ';' | ']' | '}') => {}
            Some(_) => return Err(syntax_error(self.pos())),
        }
        Ok(value)
    }

    fn bare(&mut self) -> Result<Expr, ScriptError> {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ';' | ']' | ')' | '}') {
                break;
            }
            if matches!(c, '[' | '(' | '"' | '$' | '{') {
                return Err(syntax_error(self.pos()));
            }
            if c == '\\' {
                let epos = self.pos();
                self.i += 1;
                s.push(self.escape(epos)?);
                continue;
            }
            s.push(c);
            self.i += 1;
        }
        Ok(Expr::Lit(s))
    }

    /// After a `\`: the character it stands for.
    fn escape(&mut self, at: Pos) -> Result<char, ScriptError> {
        let c = self.bump().ok_or_else(|| syntax_error(at))?;
        Ok(match c {
            '"' | '\\' | '$' | '?' => c,
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            '_' => ' ',
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'v' => '\x0b',
            h if h.is_ascii_hexdigit() => {
                let l = self.bump().filter(char::is_ascii_hexdigit).ok_or_else(|| syntax_error(at))?;
                let byte = u8::from_str_radix(&format!("{h}{l}"), 16).map_err(|_| syntax_error(at))?;
                char::from(byte)
            }
            _ => return Err(syntax_error(at)),
        })
    }

    fn string(&mut self, path: &str) -> Result<Expr, ScriptError> {
        let open = self.pos();
        self.i += 1;
        let mut parts = Vec::new();
        let mut lit = String::new();
        loop {
            let at = self.pos();
            match self.bump() {
                None => return Err(syntax_error(open)),
                Some('"') => break,
                Some('\\') => lit.push(self.escape(at)?),
                Some('$') => {
                    let expr = match self.peek() {
                        Some(c) if is_ident_char(c) => Expr::Var(self.ident()),
                        Some('(') => self.parenthesised(path)?,
                        Some('[') => self.substitution(path)?,
                        _ => {
                            lit.push('$');
                            continue;
                        }
                    };
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Expr(expr));
                }
                Some(c) => lit.push(c),
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Expr::Str(parts))
    }

    fn var_ref(&mut self) -> Result<Expr, ScriptError> {
        let pos = self.pos();
        self.i += 1; // `$`
        let name = self.ident();
        if name.is_empty() {
            return Err(syntax_error(pos));
        }
        Ok(Expr::Var(name))
    }

    /// `[ command ]`: its menu context is `path` (so `[find …]` searches the enclosing command's menu).
    fn substitution(&mut self, path: &str) -> Result<Expr, ScriptError> {
        let open = self.pos();
        self.i += 1;
        self.nest += 1;
        let mut menu = path.to_owned();
        let body = self.stmts(&mut menu, Some((']', open)))?;
        self.i += 1; // `]`
        self.nest -= 1;
        Ok(Expr::Sub(body))
    }

    fn parenthesised(&mut self, path: &str) -> Result<Expr, ScriptError> {
        let open = self.pos();
        self.i += 1;
        self.nest += 1;
        let expr = self.binary(path, 0)?;
        self.skip_inline();
        if self.peek() != Some(')') {
            return Err(if self.peek().is_none() { syntax_error(open) } else { syntax_error(self.pos()) });
        }
        self.i += 1;
        self.nest -= 1;
        Ok(expr)
    }

    fn peek_binop(&self) -> Option<(BinOp, usize)> {
        let c0 = self.peek()?;
        let c1 = self.peek_at(1);
        Some(match (c0, c1) {
            ('|', Some('|')) => (BinOp::Or, 2),
            ('&', Some('&')) => (BinOp::And, 2),
            ('!', Some('=')) => (BinOp::Ne, 2),
            ('<', Some('=')) => (BinOp::Le, 2),
            ('>', Some('=')) => (BinOp::Ge, 2),
            ('=', _) => (BinOp::Eq, 1),
            ('<', _) => (BinOp::Lt, 1),
            ('>', _) => (BinOp::Gt, 1),
            ('.', _) => (BinOp::Concat, 1),
            ('+', _) => (BinOp::Add, 1),
            ('-', Some('>')) => return None,
            ('-', _) => (BinOp::Sub, 1),
            ('*', _) => (BinOp::Mul, 1),
            ('/', _) => (BinOp::Div, 1),
            _ if self.at_keyword("and") => (BinOp::And, 3),
            _ if self.at_keyword("or") => (BinOp::Or, 2),
            _ => return None,
        })
    }

    fn binary(&mut self, path: &str, min: u8) -> Result<Expr, ScriptError> {
        let mut lhs = self.unary(path)?;
        loop {
            self.skip_inline();
            let Some((op, len)) = self.peek_binop() else { break };
            if op.precedence() < min {
                break;
            }
            self.i += len;
            let rhs = self.binary(path, op.precedence() + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self, path: &str) -> Result<Expr, ScriptError> {
        self.skip_inline();
        match (self.peek(), self.peek_at(1)) {
            (Some('!'), next) if next != Some('=') => {
                self.i += 1;
                Ok(Expr::Not(Box::new(self.unary(path)?)))
            }
            (Some('-'), next) if next != Some('>') && !next.is_some_and(|c| c.is_ascii_digit()) => {
                self.i += 1;
                Ok(Expr::Neg(Box::new(self.unary(path)?)))
            }
            _ => self.postfix(path),
        }
    }

    fn postfix(&mut self, path: &str) -> Result<Expr, ScriptError> {
        let mut expr = self.primary(path, false)?;
        loop {
            self.skip_inline();
            if self.peek() == Some('-') && self.peek_at(1) == Some('>') {
                self.i += 2;
                self.skip_inline();
                let key = self.primary(path, true)?;
                expr = Expr::Binary(BinOp::Index, Box::new(expr), Box::new(key));
            } else {
                break;
            }
        }
        Ok(expr)
    }

    /// An operand; `key` allows a bare word (`$r->status`).
    fn primary(&mut self, path: &str, key: bool) -> Result<Expr, ScriptError> {
        let pos = self.pos();
        match self.peek() {
            Some('"') => self.string(path),
            Some('$') => self.var_ref(),
            Some('[') => self.substitution(path),
            Some('(') => self.parenthesised(path),
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let mut s = String::new();
                if c == '-' {
                    s.push('-');
                    self.i += 1;
                }
                while let Some(c) = self.peek() {
                    let digit_next = self.peek_at(1).is_some_and(|d| d.is_ascii_digit());
                    let dotted = c == '.' && digit_next;
                    let prefix_len = c == '/' && digit_next && s.contains('.');
                    if c.is_ascii_alphanumeric() || c == ':' || dotted || prefix_len {
                        s.push(c);
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                Ok(match s.parse::<i64>() {
                    Ok(n) => Expr::Num(n),
                    Err(_) => Expr::Lit(s),
                })
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let w = self.word();
                match w.as_str() {
                    "true" => Ok(Expr::Bool(true)),
                    "false" => Ok(Expr::Bool(false)),
                    _ if key => Ok(Expr::Lit(w)),
                    _ => Err(syntax_error(pos)),
                }
            }
            _ => Err(syntax_error(pos)),
        }
    }

    fn script_cmd(&mut self, pos: Pos, menu: &str) -> Result<Stmt, ScriptError> {
        let wpos = self.pos();
        let name = self.word();
        let kind = match name.as_str() {
            "local" | "global" | "set" => {
                self.skip_inline();
                let vpos = self.pos();
                let var = self.ident();
                if var.is_empty() {
                    return Err(syntax_error(vpos));
                }
                let value = self.optional_value(menu)?;
                match name.as_str() {
                    "local" => StmtKind::Local(var, value),
                    "global" => StmtKind::Global(var, value),
                    _ => StmtKind::Set(var, value),
                }
            }
            "put" => StmtKind::Put(self.optional_value(menu)?),
            "error" => StmtKind::Error(self.optional_value(menu)?),
            "delay" => StmtKind::Delay(self.optional_value(menu)?),
            "len" => {
                self.skip_inline();
                StmtKind::Len(self.value(menu)?)
            }
            "log" => {
                self.skip_inline();
                let lpos = self.pos();
                let level = self.word();
                if !matches!(level.as_str(), "info" | "warning" | "error" | "debug") {
                    return Err(if level.is_empty() {
                        syntax_error(lpos)
                    } else {
                        syntax(lpos, format!("bad command name {level}"))
                    });
                }
                StmtKind::Log(level, self.optional_value(menu)?)
            }
            "if" => {
                self.skip_inline();
                let cond = self.value(menu)?;
                let mut then = None;
                let mut otherwise = None;
                loop {
                    self.skip_inline();
                    if self.at_command_end() {
                        break;
                    }
                    let apos = self.pos();
                    match self.peek_named().as_deref() {
                        Some("do") if then.is_none() => {
                            self.i += 3;
                            then = Some(self.block(menu)?);
                        }
                        Some("else") if otherwise.is_none() => {
                            self.i += 5;
                            otherwise = Some(self.block(menu)?);
                        }
                        _ => return Err(end_expected(apos)),
                    }
                }
                let Some(then) = then else { return Err(syntax(self.pos(), "missing value(s) of argument(s) do")) };
                StmtKind::If { cond, then, otherwise }
            }
            "do" => {
                self.skip_inline();
                let mut body = None;
                let mut on_error = None;
                if self.peek() == Some('{') {
                    body = Some(self.block(menu)?);
                }
                loop {
                    self.skip_inline();
                    if self.at_command_end() {
                        break;
                    }
                    let apos = self.pos();
                    match self.peek_named().as_deref() {
                        Some("do") if body.is_none() => {
                            self.i += 3;
                            body = Some(self.block(menu)?);
                        }
                        Some("on-error") if on_error.is_none() => {
                            self.i += 9;
                            on_error = Some(self.block(menu)?);
                        }
                        _ => return Err(end_expected(apos)),
                    }
                }
                let Some(body) = body else { return Err(syntax_error(self.pos())) };
                StmtKind::Do { body, on_error }
            }
            "" => return Err(syntax_error(wpos)),
            other => return Err(syntax(wpos, format!("bad command name {other}"))),
        };
        Ok(Stmt { pos, kind })
    }

    fn optional_value(&mut self, menu: &str) -> Result<Option<Expr>, ScriptError> {
        self.skip_inline();
        if self.at_command_end() { Ok(None) } else { self.value(menu).map(Some) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> ScriptError {
        parse(src, "").unwrap_err()
    }

    #[test]
    fn paths_and_commands() {
        let (stmts, menu) = parse("/ip address\nadd address=10.0.0.1/24 interface=ether1", "").unwrap();
        assert_eq!(menu, "/ip/address");
        assert_eq!(stmts.len(), 1);
        match &stmts[0].kind {
            StmtKind::Cmd { menu, command, args } => {
                assert_eq!(menu, "/ip/address");
                assert_eq!(command, "add");
                assert_eq!(args.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        let (stmts, _) = parse("/ip/dhcp-server/network/add address=x", "").unwrap();
        assert!(matches!(&stmts[0].kind, StmtKind::Cmd { menu, .. } if menu == "/ip/dhcp-server/network"));
        let (stmts, _) = parse("/interface bridge port add bridge=b interface=ether2", "").unwrap();
        assert!(matches!(&stmts[0].kind, StmtKind::Cmd { menu, .. } if menu == "/interface/bridge/port"));
    }

    #[test]
    fn errors_have_positions() {
        let e = err("/frobnicate");
        assert_eq!(e.to_string(), "bad command name frobnicate (line 1 column 2)");
        let e = err("# comment\n\n/ip address add address=\"x");
        assert_eq!((e.line, e.column, e.message.as_str()), (3, 25, "syntax error"));
        let e = err(":put a\n/system identity set name=x )");
        assert_eq!(e.to_string(), "expected end of command (line 2 column 29)");
        let e = err(":put \"a\" b");
        assert_eq!(e.message, "expected end of command");
    }

    #[test]
    fn continuation_lines() {
        let (stmts, _) = parse("/ppp profile add name=a \\\n    comment=\"x\\\n    y\"", "").unwrap();
        let StmtKind::Cmd { args, .. } = &stmts[0].kind else { panic!() };
        assert_eq!(args.len(), 2);
        let Arg::Named { value: Expr::Str(parts), .. } = &args[1] else { panic!("{args:?}") };
        assert!(matches!(&parts[0], Part::Lit(s) if s == "xy"));
    }
}
