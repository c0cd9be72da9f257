use super::*;
use crate::forge::pin::{PinFormat, read_pin, write_pin};

const UP: &str = "https://github.com/GLips/Figma-Context-MCP";
const C1: &str = "3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b";
const C2: &str = "0123456789abcdef0123456789abcdef01234567";

const EXAMPLE: &str = "\
# Mirror pipeline for figma-context-mcp
resources:
  repositories:
    - repository: templates        # the 1ES template repo
      type: git
      name: OneBranch.Pipelines/GovernedTemplates
      ref: refs/heads/main
    - repository: upstream
      type: github
      endpoint: github-mirror
      name: GLips/Figma-Context-MCP
      ref: refs/tags/v0.11.0   # upkeep:commit=3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b
extends:
  template: v2/OneBranch.Official.CrossPlat.yml@templates
";

fn target(upstream: &str) -> PinTarget<'_> {
    PinTarget {
        upstream,
        entry: None,
    }
}

fn pin(git_ref: &str, commit: Option<&str>) -> Pin {
    Pin {
        git_ref: git_ref.into(),
        commit: commit.map(str::to_owned),
    }
}

fn read_s(text: &str, t: &PinTarget) -> Result<Pin, PinError> {
    read_pin(PinFormat::AzurePipelines, text.as_bytes(), t)
}

fn write_s(text: &str, t: &PinTarget, p: &Pin) -> Result<String, PinError> {
    write_pin(PinFormat::AzurePipelines, text.as_bytes(), t, p)
        .map(|b| String::from_utf8(b).unwrap())
}

/// An upstream entry with the given `ref:` line body (everything after `ref:`).
fn with_ref(rest: &str) -> String {
    format!(
        "resources:\n  repositories:\n  - repository: up\n    type: github\n    name: GLips/Figma-Context-MCP\n    ref:{rest}\n    endpoint: gh\n"
    )
}

#[test]
fn reads_the_example() {
    let got = read_s(EXAMPLE, &target(UP)).unwrap();
    assert_eq!(got, pin("refs/tags/v0.11.0", Some(C1)));
    // The other entry is reachable by alias.
    let t = PinTarget {
        upstream: UP,
        entry: Some("templates"),
    };
    assert_eq!(read_s(EXAMPLE, &t).unwrap(), pin("refs/heads/main", None));
}

#[test]
fn writes_the_example_changing_only_the_ref_line() {
    let out = write_s(EXAMPLE, &target(UP), &pin("refs/tags/v0.12.0", Some(C2))).unwrap();
    let want = EXAMPLE.replace(
        "refs/tags/v0.11.0   # upkeep:commit=3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b",
        "refs/tags/v0.12.0   # upkeep:commit=0123456789abcdef0123456789abcdef01234567",
    );
    assert_eq!(out, want);
}

#[test]
fn ref_styles_and_commit_comments() {
    let p2 = pin("refs/tags/v2", Some(C2));
    let none = pin("refs/tags/v2", None);
    let cases: Vec<(String, &Pin, String)> = vec![
        (
            " refs/tags/v1".into(),
            &p2,
            format!(" refs/tags/v2  # upkeep:commit={C2}"),
        ),
        (
            " 'refs/tags/v1'".into(),
            &p2,
            format!(" 'refs/tags/v2'  # upkeep:commit={C2}"),
        ),
        (
            " \"refs/tags/v1\"".into(),
            &p2,
            format!(" \"refs/tags/v2\"  # upkeep:commit={C2}"),
        ),
        (" refs/tags/v1 ".into(), &none, " refs/tags/v2 ".into()),
        // An existing comment stays, after ours.
        (
            " refs/tags/v1 # bumped weekly".into(),
            &p2,
            format!(" refs/tags/v2 # upkeep:commit={C2} # bumped weekly"),
        ),
        // An existing marker is replaced in place, wherever it is.
        (
            format!("\t'refs/tags/v1'\t#  upkeep:commit={C1} by bot"),
            &p2,
            format!("\t'refs/tags/v2'\t#  upkeep:commit={C2} by bot"),
        ),
        (
            format!(" refs/tags/v1 # note upkeep:commit={C1}"),
            &p2,
            format!(" refs/tags/v2 # note upkeep:commit={C2}"),
        ),
        // No commit: the marker goes; other comment text stays.
        (
            format!(" refs/tags/v1  # upkeep:commit={C1}"),
            &none,
            " refs/tags/v2".into(),
        ),
        (
            format!(" refs/tags/v1  # upkeep:commit={C1} # keep"),
            &none,
            " refs/tags/v2  # keep".into(),
        ),
        (
            format!(" refs/tags/v1  # upkeep:commit={C1} pinned by bot"),
            &none,
            " refs/tags/v2  # pinned by bot".into(),
        ),
        (
            format!(" refs/tags/v1  # note upkeep:commit={C1}"),
            &none,
            " refs/tags/v2  # note".into(),
        ),
        (
            " refs/tags/v1 # plain note".into(),
            &none,
            " refs/tags/v2 # plain note".into(),
        ),
    ];
    for (rest, p, want_rest) in cases {
        let input = with_ref(&rest);
        let out = write_s(&input, &target(UP), p).unwrap();
        assert_eq!(out, with_ref(&want_rest), "{rest:?}");
        assert_eq!(read_s(&out, &target(UP)).unwrap(), *p, "{rest:?}");
        assert_eq!(
            write_s(&out, &target(UP), p).unwrap(),
            out,
            "idempotent: {rest:?}"
        );
    }
}

#[test]
fn values_that_plain_style_cannot_hold_are_quoted() {
    let cases = [
        (" v1", "refs/tags/a: b", " 'refs/tags/a: b'"),
        (" v1", "refs/tags/a #b", " 'refs/tags/a #b'"),
        (" v1", "1.0", " '1.0'"),
        (" v1", "true", " 'true'"),
        (" v1", "-x", " '-x'"),
        (" 'v1'", "it's", " 'it''s'"),
        (" \"v1\"", "a\"b\\c", " \"a\\\"b\\\\c\""),
        (" v1", "refs/tags/ünï", " refs/tags/ünï"),
    ];
    for (rest, value, want) in cases {
        let p = pin(value, None);
        let out = write_s(&with_ref(rest), &target(UP), &p).unwrap();
        assert_eq!(out, with_ref(want), "{value:?}");
        assert_eq!(read_s(&out, &target(UP)).unwrap(), p);
    }
}

#[test]
fn layouts_line_endings_and_bom_are_kept() {
    let p = pin("refs/tags/v2", Some(C2));
    let cases: Vec<String> = vec![
        // ref first, `-` alone, 4-space indentation, indented list.
        "resources:\n    repositories:\n        -\n            ref: refs/tags/v1\n            name: glips/figma-context-mcp\n            repository: up\n".into(),
        // Compact entries with extra spacing after the dash, comments everywhere.
        "# top\nresources:   # r\n  # between\n  repositories:\n  -   repository: a\n      name: other/thing\n      ref: refs/heads/main\n  # between entries\n  -   repository: up   # alias\n      # inside\n      name: \"GLips/Figma-Context-MCP\"\n      ref: refs/tags/v1\n".into(),
        // CRLF, no trailing newline, a document start marker, other resources.
        "---\r\ntrigger: none\r\nresources:\r\n  pipelines:\r\n  - pipeline: build\r\n    source: x\r\n  repositories:\r\n  - repository: up\r\n    name: GLips/Figma-Context-MCP\r\n    ref: 'refs/tags/v1'".into(),
        // Decoys inside block scalars, quoted and flow values spanning lines.
        "variables:\n  fake: |\n    resources:\n      repositories:\n      - repository: up\n        name: GLips/Figma-Context-MCP\n        ref: refs/tags/decoy\nresources:\n  containers: [a,\n    b]\n  repositories:\n  - repository: up\n    type: github\n    note: \"a long\n      ref: refs/tags/decoy\"\n    name: GLips/Figma-Context-MCP\n    ref: refs/tags/v1\n    trigger:\n    - main\nsteps:\n- script: |\n    ref: refs/tags/decoy\n".into(),
    ];
    for input in cases {
        for bom in [false, true] {
            let mut bytes = if bom {
                b"\xEF\xBB\xBF".to_vec()
            } else {
                Vec::new()
            };
            bytes.extend_from_slice(input.as_bytes());
            let out = write_pin(PinFormat::AzurePipelines, &bytes, &target(UP), &p).unwrap();
            assert_eq!(
                read_pin(PinFormat::AzurePipelines, &out, &target(UP)).unwrap(),
                p
            );
            assert_eq!(out.starts_with(b"\xEF\xBB\xBF"), bom);
            // Exactly one line differs, and it is the one holding the old ref.
            let old: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            let new: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
            assert_eq!(old.len(), new.len(), "{input}");
            let changed: Vec<usize> = (0..old.len()).filter(|&i| old[i] != new[i]).collect();
            assert_eq!(changed.len(), 1, "{input}");
            let line = String::from_utf8_lossy(old[changed[0]]);
            assert!(
                line.contains("ref:") && line.contains("refs/tags/v1"),
                "{line}"
            );
            assert!(!String::from_utf8_lossy(&out).contains("refs/tags/v1"));
        }
    }
}

#[test]
fn upstream_forms_select_the_entry() {
    let file = "resources:\n  repositories:\n  - repository: gh\n    name: GLips/Figma-Context-MCP\n    ref: refs/tags/gh\n  - repository: ado\n    type: git\n    name: Tools/mirror-src\n    ref: refs/tags/ado\n  - repository: same-project\n    type: git\n    name: Solo\n    ref: refs/tags/solo\n  - repository: by-url\n    endpoint: https://gitlab.example.com/group/Sub/proj.git\n    name: whatever\n    ref: refs/tags/url\n  - repository: local\n    name: checkout\n    ref: refs/tags/local\n";
    let cases = [
        ("https://github.com/GLips/Figma-Context-MCP", "refs/tags/gh"),
        (
            "https://github.com/glips/figma-context-mcp.git",
            "refs/tags/gh",
        ),
        ("git@github.com:GLips/Figma-Context-MCP.git", "refs/tags/gh"),
        (
            "ssh://git@github.com/GLips/Figma-Context-MCP",
            "refs/tags/gh",
        ),
        (
            "https://dev.azure.com/org/Tools/_git/mirror-src",
            "refs/tags/ado",
        ),
        (
            "git@ssh.dev.azure.com:v3/org/Tools/mirror-src",
            "refs/tags/ado",
        ),
        (
            "https://dev.azure.com/org/Other/_git/Solo",
            "refs/tags/solo",
        ),
        ("git@gitlab.example.com:group/sub/proj", "refs/tags/url"),
        ("/srv/upkeep/checkout.git", "refs/tags/local"),
        ("file:///srv/upkeep/checkout", "refs/tags/local"),
    ];
    for (upstream, want) in cases {
        let got = read_s(file, &target(upstream)).unwrap_or_else(|e| panic!("{upstream}: {e}"));
        assert_eq!(got.git_ref, want, "{upstream}");
    }
}

fn err(text: &str, t: &PinTarget) -> String {
    let e = read_s(text, t).unwrap_err();
    // Writing fails the same way.
    let w = write_s(text, t, &pin("refs/tags/v9", Some(C2))).unwrap_err();
    assert_eq!(e.to_string(), w.to_string());
    e.to_string()
}

#[test]
fn selection_errors_name_the_candidates() {
    let two = "resources:\n  repositories:\n  - repository: x\n    name: GLips/Figma-Context-MCP\n    ref: a\n  - repository: y\n    endpoint: git@github.com:GLips/Figma-Context-MCP.git\n    ref: b\n  - repository: z\n    name: other/repo\n    ref: c\n";
    assert_eq!(
        err(two, &target(UP)),
        "2 entries match github.com/GLips/Figma-Context-MCP; set pin-entry to one of: x, y"
    );
    assert_eq!(
        err(two, &target("https://github.com/acme/nothing")),
        "no resources.repositories entry whose name or URL matches github.com/acme/nothing (found: x, y, z)"
    );
    let by_alias = |a| PinTarget {
        upstream: UP,
        entry: Some(a),
    };
    assert_eq!(read_s(two, &by_alias("y")).unwrap(), pin("b", None));
    assert_eq!(
        err(two, &by_alias("w")),
        "no resources.repositories entry whose `repository:` alias matches w (found: x, y, z)"
    );
}

#[test]
fn refuses_what_it_cannot_edit_safely() {
    let cases: Vec<(String, &str)> = vec![
        (
            "resources:\n  repositories:\n  - repository: figma\n    name: GLips/Figma-Context-MCP\n".into(),
            "entry `figma` (line 3) has no `ref:`",
        ),
        (with_ref(""), "entry `up` has an empty `ref:` (line 6)"),
        (with_ref(" ~  # none"), "entry `up` has an empty `ref:` (line 6)"),
        (
            with_ref(" &r refs/tags/v1"),
            "line 6: `ref:` value uses YAML anchors/aliases/flow syntax; upkeep cannot edit this safely",
        ),
        (
            with_ref(" *r"),
            "line 6: `ref:` value uses YAML anchors/aliases/flow syntax; upkeep cannot edit this safely",
        ),
        (
            with_ref(" [refs/tags/v1]"),
            "line 6: `ref:` value uses YAML anchors/aliases/flow syntax; upkeep cannot edit this safely",
        ),
        (
            with_ref(" |\n      refs/tags/v1"),
            "line 6: `ref:` value spans several lines; upkeep cannot edit this safely",
        ),
        (
            with_ref(" refs/tags/\n      v1"),
            "line 6: `ref:` value spans several lines; upkeep cannot edit this safely",
        ),
        (
            with_ref(" \"refs/tags/\n      v1\""),
            "line 6: `ref:` value spans several lines; upkeep cannot edit this safely",
        ),
        (with_ref(" a: b"), "line 6: unexpected text after the `ref:` value"),
        (with_ref(" 'a' b"), "line 6: unexpected text after the `ref:` value"),
        (
            "base: &b\n  ref: x\nresources:\n  repositories:\n  - repository: up\n    name: GLips/Figma-Context-MCP\n    <<: *b\n".into(),
            "line 7: entry `up` uses a `<<` merge key (YAML anchors/aliases); upkeep cannot edit this safely",
        ),
        (
            "base: &b\n  name: GLips/Figma-Context-MCP\nresources:\n  repositories:\n  - repository: up\n    <<: *b\n    ref: v1\n".into(),
            "line 6: an entry without its own `name:` uses a `<<` merge key; upkeep cannot edit this safely",
        ),
        (
            "resources:\n  repositories:\n  - {repository: up, name: GLips/Figma-Context-MCP, ref: v1}\n".into(),
            "line 3: `repositories:` entry uses YAML anchors/aliases/flow syntax; upkeep cannot edit this safely",
        ),
        (
            "resources: {repositories: []}\n".into(),
            "line 1: `resources:` is not a block mapping (anchors/aliases/flow syntax or a scalar); upkeep cannot edit this safely",
        ),
        (with_ref(" v1\n---\nx: 1"), "line 7: a second YAML document starts here; pin files must hold one document"),
        (
            "resources:\n  repositories:\n  - repository: up\n\tname: GLips/Figma-Context-MCP\n    ref: v1\n".into(),
            "line 4: tab used for indentation",
        ),
        (
            "resources:\n  repositories:\n  - repository: up\n    name: GLips/Figma-Context-MCP\n    ref: v1\n    ref: v2\n".into(),
            "line 6: duplicate key `ref`",
        ),
        (
            "resources:\n  repositories:\n  - repository: up\n    name: GLips/Figma-Context-MCP\n   ref: v1\n".into(),
            "line 5: bad indentation",
        ),
        (
            with_ref(" v1  # upkeep:commit=xyz"),
            "line 6: malformed `upkeep:commit=` comment (expected 40 hex digits, found \"xyz\")",
        ),
        ("trigger: none\nrepositories:\n- repository: up\n  name: GLips/Figma-Context-MCP\n  ref: v1\n".into(), "no `resources:` -> `repositories:` list in the file"),
        ("- a\n- b\n".into(), "line 1: the top level is not a mapping"),
        (String::new(), "no `resources:` -> `repositories:` list in the file"),
    ];
    for (text, want) in cases {
        let got = read_s(&text, &target(UP)).unwrap_err().to_string();
        assert_eq!(got, want, "{text}");
    }
    // Non-UTF-8 is reported before anything else.
    let e = read_pin(
        PinFormat::AzurePipelines,
        b"resources:\n  \xC3\x28\n",
        &target(UP),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "not valid UTF-8 (line 2)");
    // The malformed marker is still replaced on write, which repairs it.
    let out = write_s(
        &with_ref(" v1  # upkeep:commit=xyz"),
        &target(UP),
        &pin("v2", Some(C2)),
    )
    .unwrap();
    assert_eq!(out, with_ref(&format!(" v2  # upkeep:commit={C2}")));
}

#[test]
fn selection_errors_on_write_match_read() {
    let text = with_ref(" v1");
    assert!(err(&text, &target("https://github.com/acme/other")).starts_with("no resources"));
}
