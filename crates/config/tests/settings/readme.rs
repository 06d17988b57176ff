//! The README's configuration table lists exactly the settings the code reads.

use std::collections::BTreeSet;

use complaints_config::env;

/// The names in the first column of the table under `## Configuration`.
fn documented() -> BTreeSet<String> {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("\n## Configuration")
        .nth(1)
        .expect("the README has a Configuration section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .flat_map(|line| {
            let first = line.split(" | ").next().unwrap_or_default();
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|name| {
            name.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

fn in_code() -> BTreeSet<String> {
    env::ALL
        .iter()
        .chain(env::READ_ELSEWHERE)
        .map(|name| (*name).to_owned())
        .collect()
}

#[test]
fn every_setting_is_in_the_readme_table() {
    let documented = documented();
    let missing: Vec<_> = in_code().difference(&documented).cloned().collect();
    assert!(
        missing.is_empty(),
        "settings missing from the README's configuration table: {missing:?}"
    );
}

#[test]
fn every_variable_in_the_readme_table_is_a_setting() {
    let unknown: Vec<_> = documented().difference(&in_code()).cloned().collect();
    assert!(
        unknown.is_empty(),
        "the README's configuration table names what the code does not read: {unknown:?}"
    );
}
