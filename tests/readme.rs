//! The README's generated sections (built-in rules, example report) match what the code
//! produces today, so the documentation cannot go stale. Fix with `scripts/update-readme.sh`.

mod common;

fn section(readme: &str, marker: &str) -> String {
    let begin = format!("<!-- {marker}:begin -->\n");
    let end = format!("<!-- {marker}:end -->");
    let start = readme.find(&begin).unwrap_or_else(|| panic!("README.md lacks {begin}")) + begin.len();
    let stop = readme[start..].find(&end).unwrap_or_else(|| panic!("README.md lacks {end}")) + start;
    readme[start..stop].to_string()
}

fn readme() -> String {
    std::fs::read_to_string(common::root().join("README.md")).expect("README.md")
}

#[test]
fn readme_lists_the_current_built_in_rules() {
    let run = common::run_kparity(&["rules", "--markdown", "--profile", "argocd-label-tracking,argocd-control-plane"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(section(&readme(), "rules"), run.stdout, "README.md is stale: run scripts/update-readme.sh");
}

#[test]
fn readme_shows_the_current_example_report() {
    let run = common::run_kparity(&["diff", "snapshots/blue.kparity", "snapshots/green.kparity"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        section(&readme(), "example"),
        format!("```text\n{}```\n", run.stdout),
        "README.md is stale: run scripts/update-readme.sh"
    );
}
