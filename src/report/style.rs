//! Colour for people at a terminal, and only for them: `NO_COLOR` (no-color.org) turns it off,
//! and a pipe or a file always gets plain text, so piped output is stable byte for byte.

use crate::diff::{Comparison, Verdict};

const RESET: &str = "\x1b[0m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";

/// Whether to colour: only on a terminal, and never when `NO_COLOR` is set to anything but "".
pub fn colour_wanted(stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The decision for this process's stdout and environment.
pub fn colour_for_stdout() -> bool {
    use std::io::IsTerminal as _;
    colour_wanted(std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

/// Colours a rendered table report: the verdict line by verdict, and each differing object's
/// line by its change marker. Everything else is left as rendered.
pub fn colour_table(text: &str, c: &Comparison) -> String {
    let headline = super::headline(c);
    let verdict_colour = match c.verdict {
        Verdict::Equivalent => GREEN,
        Verdict::Different => RED,
        Verdict::Incomplete => YELLOW,
    };
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let colour = if body == headline {
            Some(verdict_colour)
        } else if body.starts_with("~ ") {
            Some(YELLOW)
        } else if body.starts_with("- ") {
            Some(RED)
        } else if body.starts_with("+ ") {
            Some(GREEN)
        } else {
            None
        };
        match colour {
            Some(c) if body == headline => out.push_str(&format!("{BOLD}{c}{body}{RESET}{nl}")),
            Some(c) => out.push_str(&format!("{c}{body}{RESET}{nl}")),
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        // no-color.org: an empty NO_COLOR does not count.
        assert!(colour_wanted(true, Some(OsStr::new(""))));
    }

    #[test]
    fn colouring_changes_only_the_verdict_and_object_lines() {
        let c = crate::report::fixture::different();
        let plain = crate::report::table::render(&c);
        let coloured = colour_table(&plain, &c);
        assert!(coloured.contains(&format!("{BOLD}{RED}DIFFERENT")), "{coloured}");
        assert!(coloured.contains(&format!("{RED}- Deployment.apps shop/worker{RESET}")), "{coloured}");
        let stripped =
            coloured.replace(RESET, "").replace(BOLD, "").replace(RED, "").replace(GREEN, "").replace(YELLOW, "");
        assert_eq!(stripped, plain);
    }
}
