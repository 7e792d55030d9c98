//! RouterOS's servlet page language (reference §7.3): `$(name)` variables, `$(name-esc)` URL-escaped
//! forms, and `$(if …)$(elif …)$(else)$(endif)` conditionals, including the special `http-status` and
//! `http-header` blocks that set the answer's status and headers instead of printing.

/// A page after substitution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rendered {
    /// Set by `$(if http-status == 302)reason$(endif)`: the code and the reason text.
    pub(crate) status: Option<(u16, String)>,
    /// Set by `$(if http-header == "Location")value$(endif)`, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

/// One `$(…)` directive.
#[derive(Debug, PartialEq, Eq)]
enum Directive<'a> {
    Var(&'a str),
    If(Condition<'a>),
    Elif(Condition<'a>),
    Else,
    Endif,
}

#[derive(Debug, PartialEq, Eq)]
struct Condition<'a> {
    name: &'a str,
    /// `None`: true when the variable is not empty; `Some((equal, value))`: `==` / `!=` comparison.
    test: Option<(bool, &'a str)>,
}

/// What the text inside an active special block goes to.
#[derive(Debug)]
enum Capture {
    Status(u16),
    Header(String),
}

#[derive(Debug)]
struct Frame {
    /// Were all enclosing blocks active?
    outer: bool,
    /// Has a branch of this block been taken already?
    taken: bool,
    /// Is the current branch printing?
    active: bool,
    capture: Option<(Capture, String)>,
}

fn parse_condition(text: &str) -> Condition<'_> {
    let text = text.trim();
    for (op, equal) in [("==", true), ("!=", false)] {
        if let Some((name, value)) = text.split_once(op) {
            let value = value.trim();
            let unquoted = ['"', '\''].iter().find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)));
            let value = unquoted.unwrap_or(value);
            return Condition { name: name.trim(), test: Some((equal, value)) };
        }
    }
    Condition { name: text, test: None }
}

fn parse_directive(inner: &str) -> Directive<'_> {
    let trimmed = inner.trim();
    if let Some(rest) = trimmed.strip_prefix("if ") {
        Directive::If(parse_condition(rest))
    } else if let Some(rest) = trimmed.strip_prefix("elif ") {
        Directive::Elif(parse_condition(rest))
    } else if trimmed == "else" {
        Directive::Else
    } else if trimmed == "endif" {
        Directive::Endif
    } else {
        Directive::Var(trimmed)
    }
}

/// The value of `name`: `vars` first, then `<known>-esc` as the URL-escaped value of `<known>`; unknown
/// names are empty, like on the router.
fn value(name: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(v) = vars(name) {
        return v;
    }
    match name.strip_suffix("-esc").and_then(vars) {
        Some(v) => url::form_urlencoded::byte_serialize(v.as_bytes()).collect(),
        None => String::new(),
    }
}

impl Frame {
    fn enter(&mut self, condition: &Condition<'_>, vars: &dyn Fn(&str) -> Option<String>) {
        let chosen = self.outer && !self.taken && holds(condition, vars);
        self.active = chosen;
        self.taken |= chosen;
        if chosen {
            self.capture = special(condition).map(|c| (c, String::new()));
        }
    }
}

/// `http-status == N` and `http-header == "Name"` blocks: always true, their text is captured.
fn special(condition: &Condition<'_>) -> Option<Capture> {
    match (condition.name, condition.test) {
        ("http-status", Some((true, code))) => code.parse().ok().map(Capture::Status),
        ("http-header", Some((true, name))) => Some(Capture::Header(name.to_owned())),
        _ => None,
    }
}

fn holds(condition: &Condition<'_>, vars: &dyn Fn(&str) -> Option<String>) -> bool {
    if special(condition).is_some() {
        return true;
    }
    let actual = value(condition.name, vars);
    match condition.test {
        None => !actual.is_empty(),
        Some((equal, wanted)) => (actual == wanted) == equal,
    }
}

/// Substitute `template` with `vars`. Unbalanced `$(endif)`/`$(else)` are ignored and an unclosed
/// `$(if)` runs to the end of the page; a `$(` without `)` is printed as it is.
pub(crate) fn render(template: &str, vars: &dyn Fn(&str) -> Option<String>) -> Rendered {
    let mut out = Rendered::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut rest = template;
    let emit = |stack: &mut Vec<Frame>, out: &mut Rendered, text: &str| {
        if !stack.last().is_none_or(|f| f.active) {
            return;
        }
        match stack.iter_mut().rev().find_map(|f| f.capture.as_mut()) {
            Some((_, buf)) => buf.push_str(text),
            None => out.body.push_str(text),
        }
    };
    while let Some(start) = rest.find("$(") {
        emit(&mut stack, &mut out, &rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else {
            emit(&mut stack, &mut out, &rest[start..]);
            rest = "";
            break;
        };
        rest = &after[end + 1..];
        let active = stack.last().is_none_or(|f| f.active);
        match parse_directive(&after[..end]) {
            Directive::Var(name) => {
                if active {
                    let v = value(name, vars);
                    emit(&mut stack, &mut out, &v);
                }
            }
            Directive::If(condition) => {
                let mut frame = Frame { outer: active, taken: false, active: false, capture: None };
                frame.enter(&condition, vars);
                stack.push(frame);
            }
            Directive::Elif(condition) => {
                if let Some(frame) = stack.last_mut() {
                    finish_capture(frame, &mut out);
                    frame.enter(&condition, vars);
                }
            }
            Directive::Else => {
                if let Some(frame) = stack.last_mut() {
                    finish_capture(frame, &mut out);
                    frame.active = frame.outer && !frame.taken;
                    frame.taken = true;
                }
            }
            Directive::Endif => {
                if let Some(mut frame) = stack.pop() {
                    finish_capture(&mut frame, &mut out);
                }
            }
        }
    }
    emit(&mut stack, &mut out, rest);
    out
}

fn finish_capture(frame: &mut Frame, out: &mut Rendered) {
    match frame.capture.take() {
        Some((Capture::Status(code), reason)) => out.status = Some((code, reason.trim().to_owned())),
        Some((Capture::Header(name), value)) => out.headers.push((name, value.trim().to_owned())),
        None => {}
    }
}

/// Bytes as the router prints `$(chap-id)` / `$(chap-challenge)`: a JavaScript string body of three-digit
/// octal escapes (`\371\015…`).
pub(crate) fn octal_escapes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:03o}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn page(template: &str, pairs: &[(&str, &str)]) -> Rendered {
        let vars: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        render(template, &|name: &str| vars.get(name).cloned())
    }

    fn body(template: &str, pairs: &[(&str, &str)]) -> String {
        page(template, pairs).body
    }

    #[test]
    fn variables_and_escaped_forms() {
        let vars = [("mac", "AA:BB:CC:00:00:01"), ("link-orig", "http://example.com/a b?x=1&y=2")];
        assert_eq!(
            body("mac=$(mac) orig=$(link-orig)", &vars),
            "mac=AA:BB:CC:00:00:01 orig=http://example.com/a b?x=1&y=2"
        );
        assert_eq!(
            body("$(mac-esc)|$(link-orig-esc)", &vars),
            "AA%3ABB%3ACC%3A00%3A00%3A01|http%3A%2F%2Fexample.com%2Fa+b%3Fx%3D1%26y%3D2"
        );
        assert_eq!(body("[$(nothing)][$(nothing-esc)]", &vars), "[][]", "unknown names are empty");
        assert_eq!(body("cost $( 5", &vars), "cost $( 5", "an unclosed $( is text");
    }

    #[test]
    fn if_elif_else_endif() {
        let t = "<$(if error)E:$(error)$(elif chap-id)CHAP$(elif trial == yes)TRIAL$(else)PAP$(endif)>";
        assert_eq!(body(t, &[("error", "bad"), ("chap-id", "\\001")]), "<E:bad>", "first true branch only");
        assert_eq!(body(t, &[("error", ""), ("chap-id", "\\001")]), "<CHAP>", "empty is false");
        assert_eq!(body(t, &[("trial", "yes")]), "<TRIAL>");
        assert_eq!(body(t, &[("trial", "no")]), "<PAP>");
        assert_eq!(body("$(if login-by != mac)form$(else)mac$(endif)", &[("login-by", "mac")]), "mac");
        assert_eq!(body("$(if login-by != mac)form$(else)mac$(endif)", &[("login-by", "http-pap")]), "form");
        assert_eq!(body(r#"$(if identity == "Main gw")yes$(endif)"#, &[("identity", "Main gw")]), "yes");
        assert_eq!(body("$(if login-by == 'trial')T$(else)U$(endif)", &[("login-by", "trial")]), "T");
    }

    #[test]
    fn nested_blocks_follow_their_parent() {
        let t = "$(if a)A[$(if b)B$(else)notB$(endif)]$(else)notA[$(if b)B$(else)notB$(endif)]$(endif).";
        assert_eq!(body(t, &[("a", "1"), ("b", "1")]), "A[B].");
        assert_eq!(body(t, &[("a", "1")]), "A[notB].");
        assert_eq!(body(t, &[("b", "1")]), "notA[B].");
        assert_eq!(body(t, &[]), "notA[notB].");
        // an inner true branch inside a false outer branch prints nothing, and no variable leaks out
        assert_eq!(body("$(if x)$(if y)$(y)$(endif)$(endif)|", &[("y", "Y")]), "|");
    }

    #[test]
    fn http_status_and_header_blocks_set_the_answer() {
        let t = "$(if http-status == 302)Hotspot login required$(endif)\n\
                 $(if http-header == \"Location\")$(link-login)$(endif)\nbody";
        let r = page(t, &[("link-login", "http://10.5.50.1/login?dst=x")]);
        assert_eq!(r.status, Some((302, "Hotspot login required".to_owned())));
        assert_eq!(r.headers, vec![("Location".to_owned(), "http://10.5.50.1/login?dst=x".to_owned())]);
        assert_eq!(r.body, "\n\nbody");
        // inside a false branch they do nothing
        let r = page("$(if nope)$(if http-status == 302)x$(endif)$(endif)ok", &[]);
        assert_eq!((r.status, r.body.as_str()), (None, "ok"));
    }

    #[test]
    fn chap_strings_are_three_digit_octal_escapes() {
        assert_eq!(octal_escapes(&[0o371]), "\\371");
        assert_eq!(octal_escapes(&[0o357, 0o15, 0o330, 0]), "\\357\\015\\330\\000");
    }
}
