//! Command lines split into arguments as Pipy splits them (no shell): for `pipy.exec` and
//! the `exec` filter.

/// Splits a command line the way Pipy's `utils::split_argv` does.
pub fn split_argv(line: &str) -> Vec<String> {
    let (mut args, mut arg) = (Vec::new(), String::new());
    let (mut escaped, mut quoted) = (false, false);
    for c in line.chars() {
        if escaped {
            arg.push(c);
            escaped = false;
        } else if c == ' ' || c == '\t' {
            if quoted {
                arg.push(c);
            } else if !arg.is_empty() {
                args.push(std::mem::take(&mut arg));
            }
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            // A closing quote ends the argument even when it is empty, as in Pipy.
            if quoted {
                args.push(std::mem::take(&mut arg));
            }
            quoted = !quoted;
        } else {
            arg.push(c);
        }
    }
    if !arg.is_empty() {
        args.push(arg);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::split_argv;

    #[test]
    fn command_lines_split_as_in_pipy() {
        assert_eq!(split_argv(r#"ip link  set "a b" c\ d \"e"#), ["ip", "link", "set", "a b", "c d", "\"e"]);
        assert_eq!(split_argv(r#"x "" y"#), ["x", "", "y"]);
        assert!(split_argv("   ").is_empty());
    }
}
