//! A script's load error as Pipy prints it: `main.js:3:7: SyntaxError: ...`, the place taken
//! from Boa's message, whose shape varies by error kind.

use super::script::WRAP_PREFIX;

/// `main.js:3:7: SyntaxError: ...` from Boa's message, whose shape varies by error kind.
pub fn format(name: &str, message: &str, wrapped: bool, source_lines: usize) -> String {
    let re_line = |m: &str| -> Option<(usize, usize)> {
        let at = m.rfind("line ")?;
        let rest = &m[at + 5..];
        let line: usize = rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
        let col = rest.find("col").and_then(|c| {
            rest[c..]
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        });
        Some((line, col.unwrap_or(1)))
    };
    let loc = re_line(message).or_else(|| {
        // Runtime errors carry `at ... (file:line:col)` in their stack.
        let idx = message.find(&format!("{name}:"))?;
        let mut parts = message[idx + name.len() + 1..].split(|c: char| !c.is_ascii_digit());
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    });
    let first = message.lines().next().unwrap_or(message);
    // Already placed in another file (a plugin's syntax error): keep that place.
    if let Some(placed) = first.strip_prefix("Error: ").filter(|m| m.starts_with('/') && first_frame_like(m)) {
        return placed.to_string();
    }
    // Thrown in another module: its first stack frame says where.
    if let Some((file, line, col)) = first_frame(message).filter(|(file, _, _)| *file != name) {
        return format!("{file}:{line}:{col}: {first}");
    }
    // Boa gives no position for a script that ends too early: that is its last line.
    let loc = loc.or_else(|| first.contains("abrupt end").then_some((source_lines, 1)));
    match loc {
        Some((line, col)) => {
            // The wrapper `(function(){` shares the first line, so only its columns move.
            let col = if wrapped && line == 1 { col.saturating_sub(WRAP_PREFIX.len()).max(1) } else { col };
            format!("{name}:{line}:{col}: {first}")
        }
        None => format!("{name}: {first}"),
    }
}

/// `(file, line, column)` of the innermost `at f (file:line:col)` frame of a stack.
fn first_frame(message: &str) -> Option<(&str, usize, usize)> {
    message.lines().filter(|l| l.trim_start().starts_with("at ")).find_map(|l| {
        let inner = l.trim_end().strip_suffix(')')?;
        let inner = &inner[inner.rfind('(')? + 1..];
        let mut parts = inner.rsplitn(3, ':');
        let col = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        Some((parts.next()?, line, col))
    })
}

/// Whether `message` starts with `path:line:col: `.
fn first_frame_like(message: &str) -> bool {
    let mut parts = message.splitn(4, ':');
    let (_, line, col) = (parts.next(), parts.next(), parts.next());
    [line, col].iter().all(|p| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        && parts.next().is_some_and(|rest| rest.starts_with(' '))
}
